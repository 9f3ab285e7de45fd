// The opening handshake: the request head is parsed in place in the receive buffer (a head that
// spans buffers is gathered), validated by core/, and answered with the 101 response written
// into a pooled buffer, an HTTP error, or the HTML echo page.
#include <algorithm>
#include <cstring>
#include <new>

#include "server/engine.hpp"

namespace wsring::server {

void Engine::handle_handshake(Connection& c, uint8_t* data, size_t size, const Segment& owner) {
  size_t consumed = 0;
  if (!c.gather) {
    // Fast path: the whole head is in this buffer, parsed in place.
    if (answer_request(c, data, size, &consumed)) {
      if (c.state == ConnState::Open && consumed < size)
        consume_frames_from(c, data + consumed, size - consumed, owner);  // frames followed the head
      else
        release(owner);
      return;
    }
    // Slow path: keep what we have in a gather buffer, give the receive buffer back.
    const bool gathered = start_gather(c, data, size);
    release(owner);
    if (!gathered) send_http_error(c, 503, "server busy: too many incomplete requests", false);
    return;
  }
  const size_t take = std::min(gather_pool_.buffer_size() - c.gather_size, size);
  std::memcpy(c.gather + c.gather_size, data, take);
  c.gather_size += uint32_t(take);
  if (!answer_request(c, c.gather, c.gather_size, &consumed)) {
    release(owner);
    if (c.gather_size >= gather_pool_.buffer_size()) send_http_error(c, 431, "request header too large", false);
    return;
  }
  if (c.state != ConnState::Open) {
    end_gather(c);
    release(owner);
    return;
  }
  // The head is complete. Frames that followed it sit in the gather buffer and possibly in the
  // part of the receive buffer that did not fit; read them in order. The gather buffer now
  // belongs to the output that may point into it.
  uint8_t* gather = c.gather;
  const size_t in_gather = c.gather_size - consumed;
  c.gather = nullptr;
  c.gather_size = 0;
  if (in_gather > 0)
    consume_frames_from(c, gather + consumed, in_gather, Segment::pool_marker(Owner::GatherPool, gather));
  else
    gather_pool_.release(gather);
  if (c.state == ConnState::Open && take < size)
    consume_frames_from(c, data + take, size - take, owner);
  else
    release(owner);
}

bool Engine::start_gather(Connection& c, const uint8_t* data, size_t size) {
  uint8_t* gather = gather_pool_.acquire();
  // Out of gather buffers: drop the oldest incomplete request (the slowest client), so that
  // slow or idle sockets cannot lock out a normal client whose head came in two writes.
  while (!gather && !gathering_.empty()) {
    const auto [token, buffer] = gathering_.front();
    gathering_.pop_front();
    Connection& old = connections_[token];
    if (old.gather != buffer || old.state != ConnState::Handshaking || &old == &c) continue;  // stale entry
    ++stats_.requests_evicted;
    send_http_error(old, 408, "request head too slow: the server needed its buffer", false);
    flush(old);
    gather = gather_pool_.acquire();
  }
  if (!gather) {
    ++stats_.pool_exhausted;
    return false;
  }
  try {
    gathering_.emplace_back(c.token, gather);
  } catch (const std::bad_alloc&) {  // out of memory: answered like an empty pool
    gather_pool_.release(gather);
    ++stats_.memory_refusals;
    return false;
  }
  std::memcpy(gather, data, size);  // size < max_header_size, or the parser said 431
  c.gather = gather;
  c.gather_size = uint32_t(size);
  if (gathering_.size() > 2 * gather_pool_.capacity()) {  // drop stale entries, keep the order
    std::erase_if(gathering_, [&](const auto& e) { return connections_[e.first].gather != e.second; });
  }
  return true;
}

void Engine::end_gather(Connection& c) {
  if (!c.gather) return;
  gather_pool_.release(c.gather);
  c.gather = nullptr;
  c.gather_size = 0;
}

bool Engine::answer_request(Connection& c, uint8_t* data, size_t size, size_t* consumed) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const core::ParseResult parsed = core::parse_upgrade_request(input, request_limits_, request_);
  if (parsed.status == core::ParseStatus::NeedMore) return false;
  if (parsed.status == core::ParseStatus::Error) {
    send_http_error(c, parsed.http_status, parsed.error ? parsed.error : "bad request", false);
    return true;
  }
  const core::HandshakeDecision decision = core::validate_upgrade(request_, policy_);
  if (decision.status != 101) {
    if (decision.plain_http && decision.status == 426) {
      // A browser opening the URL: serve the page with the JavaScript echo client.
      ++stats_.pages_served;
      c.ended_by(EndReason::HttpResponse);
      end_gather(c);
      queue(c, Segment::unowned(page_response_.data(), page_response_.size()));
      enter(c, ConnEvent::FinalHttp);
      c.deadline_ms = reactor_.now_ms() + seconds_to_ms(config_.close_timeout_s);
      schedule_timer(c, reactor_.now_ms());
      return true;
    }
    send_http_error(c, decision.status, decision.reason ? decision.reason : "bad request", decision.version_mismatch);
    return true;
  }
  // Accept: the 101 response goes into a pooled write buffer, with Sec-WebSocket-Accept
  // computed straight into it.
  char extension[160];
  const size_t extension_size = agree_deflate(c, extension);
  const core::HttpHeader extension_header{"Sec-WebSocket-Extensions", std::string_view(extension, extension_size)};
  const SmallBuffer out = small_buffer();
  const size_t n = core::write_upgrade_response(std::span<char>(reinterpret_cast<char*>(out.data), out.capacity),
                                                decision.key, decision.subprotocol,
                                                std::span<const core::HttpHeader>(&extension_header,
                                                                                  extension_size ? 1 : 0));
  if (n == 0) {
    queue_small(c, out, 0);
    send_http_error(c, 500, "response does not fit", false);
    return true;
  }
  if (!queue_small(c, out, n)) return true;  // the memory budget refused: the connection is failing
  ++stats_.upgraded;
  enter(c, ConnEvent::Upgraded);
  c.deadline_ms = 0;
  schedule_timer(c, reactor_.now_ms());
  *consumed = parsed.consumed;
  Session session(*this, c);
  app_.on_open(session);
  return true;
}

void Engine::send_http_error(Connection& c, int status, std::string_view body, bool version_mismatch) {
  ++stats_.http_errors;
  ++stats_.upgrade_failures[http_status_bucket(status)];
  c.ended_by(EndReason::HttpResponse);
  end_gather(c);
  log_refusal(c, status, body);
  const SmallBuffer out = small_buffer();
  const size_t n = core::write_error_response(std::span<char>(reinterpret_cast<char*>(out.data), out.capacity),
                                              status, body, version_mismatch);
  if (!queue_small(c, out, n) || n == 0) {
    close_now(c, true);
    return;
  }
  enter(c, ConnEvent::FinalHttp);
  c.deadline_ms = reactor_.now_ms() + seconds_to_ms(config_.close_timeout_s);
  schedule_timer(c, reactor_.now_ms());
}

// Every refused upgrade is logged at info with its reason, at most one line a second (the
// rest are counted and reported with the next line), so a flood cannot flood the log.
void Engine::log_refusal(Connection& c, int status, std::string_view reason) {
  const uint64_t now = reactor_.now_ms();
  if (!log_.enabled(LogLevel::Info)) return;
  if (refusals_logged_ms_ != 0 && now < refusals_logged_ms_ + 1000) {
    ++refusals_suppressed_;
    return;
  }
  refusals_logged_ms_ = now;
  if (refusals_suppressed_ > 0) {
    log_.info("%s: upgrade refused with HTTP %d: %.*s (%llu more refused in the last second)", who(c.token).c_str(),
              status, int(reason.size()), reason.data(), static_cast<unsigned long long>(refusals_suppressed_));
    refusals_suppressed_ = 0;
  } else {
    log_.info("%s: upgrade refused with HTTP %d: %.*s", who(c.token).c_str(), status, int(reason.size()),
              reason.data());
  }
}

}  // namespace wsring::server
