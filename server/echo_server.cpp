#include "server/echo_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/close.hpp"
#include "core/frame.hpp"
#include "net/socket.hpp"
#include "server/echo_page.hpp"

namespace wsring::server {

using core::Opcode;
using core::ReadEventType;

namespace {

constexpr size_t kWriteBufferSize = 512;     // a 101 response, an HTTP error, a close or a pong
constexpr size_t kWriteBufferCount = 8192;
constexpr size_t kGatherBufferCount = 4096;  // slow clients whose request head spans buffers
constexpr int kMaxIov = 64;

uint64_t seconds_to_ms(double s) { return uint64_t(s * 1000.0 + 0.5); }

}  // namespace

ServerStats& ServerStats::operator+=(const ServerStats& o) {
  accepted += o.accepted;
  refused_over_limit += o.refused_over_limit;
  upgraded += o.upgraded;
  http_errors += o.http_errors;
  pages_served += o.pages_served;
  messages_echoed += o.messages_echoed;
  protocol_errors += o.protocol_errors;
  handshake_timeouts += o.handshake_timeouts;
  idle_timeouts += o.idle_timeouts;
  send_timeouts += o.send_timeouts;
  pool_exhausted += o.pool_exhausted;
  receives += o.receives;
  sends += o.sends;
  spills += o.spills;
  return *this;
}

std::string ServerStats::summary() const {
  char line[512];
  snprintf(line, sizeof line,
           "%llu connections accepted, %llu upgraded, %llu messages echoed, %llu HTTP errors, %llu pages served, "
           "%llu protocol errors, %llu refused over the limit, %llu handshake timeouts, %llu idle timeouts, "
           "%llu send timeouts, %llu pool exhaustions, %llu receives, %llu sends, %llu spills",
           (unsigned long long)accepted, (unsigned long long)upgraded, (unsigned long long)messages_echoed,
           (unsigned long long)http_errors, (unsigned long long)pages_served, (unsigned long long)protocol_errors,
           (unsigned long long)refused_over_limit, (unsigned long long)handshake_timeouts,
           (unsigned long long)idle_timeouts, (unsigned long long)send_timeouts, (unsigned long long)pool_exhausted,
           (unsigned long long)receives, (unsigned long long)sends, (unsigned long long)spills);
  return line;
}

EchoServer::EchoServer(const Config& config, net::Reactor& reactor, int listen_fd, SharedState& shared, const Logger& log)
    : config_(config),
      reactor_(reactor),
      listen_fd_(listen_fd),
      shared_(shared),
      log_(log),
      write_pool_(kWriteBufferSize, kWriteBufferCount),
      gather_pool_(config.max_header_size, kGatherBufferCount),
      timers_(50, 4096) {
  request_limits_.max_header_bytes = config.max_header_size;
  request_limits_.max_headers = config.max_headers;
  for (const std::string& s : config.subprotocols) subprotocol_views_.emplace_back(s);
  for (const std::string& s : config.allowed_origins) origin_views_.emplace_back(s);
  policy_.path = config.path;
  policy_.subprotocols = subprotocol_views_;
  policy_.allowed_origins = origin_views_;
  page_response_ = make_echo_page_response();
}

EchoServer::~EchoServer() = default;

void EchoServer::run() {
  reactor_.listen(listen_fd_);
  reactor_.run(*this);
}

// ---------------------------------------------------------------------------------------
// Accept and handshake

void EchoServer::on_accept(int fd) {
  ++stats_.accepted;
  if (shutting_down_) {
    ::close(fd);
    return;
  }
  if (config_.max_connections && shared_.connections.load(std::memory_order_relaxed) >= config_.max_connections) {
    // Over the limit: say so in one small write and hang up; never queue such a socket.
    static const char kBusy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
        "Connection: close\r\nRetry-After: 1\r\n\r\nconnection limit reached\n";
    ssize_t ignored = ::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    // Drain what the client already sent: closing with unread bytes would reset the
    // connection, and the reset could destroy the 503 before the client reads it.
    char discard[4096];
    for (int i = 0; i < 16 && ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
    }
    (void)ignored;
    ::close(fd);
    ++stats_.refused_over_limit;
    return;
  }
  net::Token t;
  if (!free_tokens_.empty()) {
    t = free_tokens_.back();
    free_tokens_.pop_back();
  } else {
    t = net::Token(connections_.size());
    connections_.emplace_back();
  }
  Connection& c = connections_[t];
  c.~Connection();
  new (&c) Connection();
  c.token = t;
  // A control frame split across receive buffers is gathered in a write-pool buffer.
  c.reader = core::MessageReader(core::Role::Server, core::ReaderLimits{config_.max_message_size}, &write_pool_);
  c.state = State::Handshaking;
  c.last_activity_ms = reactor_.now_ms();
  ++live_;
  shared_.connections.fetch_add(1, std::memory_order_relaxed);
  reactor_.open(t, fd);
  timers_.schedule(c.timer, c.last_activity_ms + seconds_to_ms(config_.handshake_timeout_s));
}

void EchoServer::on_recv(net::Token t, const net::RecvBuffer& b) {
  Connection& c = conn(t);
  ++stats_.receives;
  c.last_activity_ms = reactor_.now_ms();
  switch (c.state) {
    case State::Handshaking:
      handle_handshake(t, c, b);
      return;
    case State::Open:
      echo_frames(t, c, b.data, b.size, b.id, nullptr);
      return;
    case State::Closing:
      discard_until_close(t, c, b.data, b.size);
      reactor_.release_buffer(b.id);
      maybe_finish(t, c);
      return;
    case State::Free:
      reactor_.release_buffer(b.id);
      return;
  }
}

void EchoServer::handle_handshake(net::Token t, Connection& c, const net::RecvBuffer& b) {
  if (c.close_queued) {  // an error response is on its way: ignore the rest of the request
    reactor_.release_buffer(b.id);
    return;
  }
  bool frames_follow = false;
  size_t consumed = 0;
  if (!c.gather) {
    // Fast path: the whole head is in this buffer, parsed in place.
    if (answer_request(t, c, b.data, b.size, &frames_follow, &consumed)) {
      if (frames_follow)
        echo_frames(t, c, b.data + consumed, b.size - consumed, b.id, nullptr);
      else
        reactor_.release_buffer(b.id);
      return;
    }
    // Slow path: keep what we have in a gather buffer, give the receive buffer back.
    c.gather = gather_pool_.acquire();
    if (!c.gather) {
      ++stats_.pool_exhausted;
      reactor_.release_buffer(b.id);
      send_http_error(t, c, 503, "server busy: too many incomplete requests", false);
      return;
    }
    std::memcpy(c.gather, b.data, b.size);  // b.size < max_header_size, or the parser said 431
    c.gather_size = uint32_t(b.size);
    reactor_.release_buffer(b.id);
    return;
  }
  const size_t room = gather_pool_.buffer_size() - c.gather_size;
  const size_t take = std::min(room, b.size);
  std::memcpy(c.gather + c.gather_size, b.data, take);
  c.gather_size += uint32_t(take);
  if (!answer_request(t, c, c.gather, c.gather_size, &frames_follow, &consumed)) {
    reactor_.release_buffer(b.id);
    if (c.gather_size >= gather_pool_.buffer_size()) send_http_error(t, c, 431, "request header too large", false);
    return;
  }
  // The head is complete. Frames that followed it sit in the gather buffer and possibly in
  // the part of the receive buffer that did not fit; echo them in order.
  uint8_t* gather = c.gather;  // null if an error response already gave it back
  c.gather = nullptr;
  const size_t in_gather = c.gather_size - consumed;
  c.gather_size = 0;
  if (gather && c.state == State::Open && in_gather > 0) {
    echo_frames(t, c, gather + consumed, in_gather, -1, gather);
  } else if (gather) {
    gather_pool_.release(gather);
  }
  if (c.state == State::Open && take < b.size) {
    echo_frames(t, c, b.data + take, b.size - take, b.id, nullptr);
  } else {
    reactor_.release_buffer(b.id);
  }
}

bool EchoServer::answer_request(net::Token t, Connection& c, uint8_t* data, size_t size, bool* frames_follow,
                                size_t* consumed) {
  core::UpgradeRequest& request = request_;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const core::ParseResult parsed = core::parse_upgrade_request(input, request_limits_, request);
  if (parsed.status == core::ParseStatus::NeedMore) return false;
  *frames_follow = false;
  if (parsed.status == core::ParseStatus::Error) {
    send_http_error(t, c, parsed.http_status, parsed.error ? parsed.error : "bad request", false);
    return true;
  }
  const core::HandshakeDecision decision = core::validate_upgrade(request, policy_);
  if (decision.status != 101) {
    if (decision.plain_http && decision.status == 426) {
      // A browser opening the URL: serve the page with the JavaScript echo client.
      ++stats_.pages_served;
      c.close_queued = true;
      schedule_timer(c, reactor_.now_ms());
      queue_segment(t, c, Segment{reinterpret_cast<const uint8_t*>(page_response_.data()),
                                  uint32_t(page_response_.size()), -1, nullptr});
      return true;
    }
    send_http_error(t, c, decision.status, decision.reason ? decision.reason : "bad request",
                    decision.version_mismatch);
    return true;
  }
  // Accept: the 101 response goes into a pooled write buffer, with Sec-WebSocket-Accept
  // computed straight into it.
  uint8_t* out = write_pool_.acquire();
  if (!out) {
    ++stats_.pool_exhausted;
    send_http_error(t, c, 503, "server busy", false);
    return true;
  }
  const size_t n = core::write_upgrade_response(
      std::span<char>(reinterpret_cast<char*>(out), write_pool_.buffer_size()), decision.key, decision.subprotocol);
  if (n == 0) {
    write_pool_.release(out);
    send_http_error(t, c, 500, "response does not fit", false);
    return true;
  }
  ++stats_.upgraded;
  c.state = State::Open;
  queue_segment(t, c, Segment{out, uint32_t(n), -1, out});
  schedule_timer(c, reactor_.now_ms());
  *consumed = parsed.consumed;
  *frames_follow = parsed.consumed < size;
  return true;
}

void EchoServer::send_http_error(net::Token t, Connection& c, int status, std::string_view body, bool version_mismatch) {
  ++stats_.http_errors;
  timers_.cancel(c.timer);
  c.close_queued = true;
  if (c.gather) {
    gather_pool_.release(c.gather);
    c.gather = nullptr;
  }
  uint8_t* out = write_pool_.acquire();
  if (!out) {
    ++stats_.pool_exhausted;
    close_now(t, c, true);
    return;
  }
  size_t n = core::write_error_response(std::span<char>(reinterpret_cast<char*>(out), write_pool_.buffer_size()),
                                        status, body, version_mismatch);
  if (n == 0) {
    write_pool_.release(out);
    close_now(t, c, true);
    return;
  }
  log_.debug("connection %u: HTTP %d (%.*s)", t, status, int(body.size()), body.data());
  queue_segment(t, c, Segment{out, uint32_t(n), -1, out});
  schedule_timer(c, reactor_.now_ms());
}

// ---------------------------------------------------------------------------------------
// The echo: frames are rewritten in place. A server header (2-10 bytes) is 4 bytes shorter
// than the client header it answers (6-14), so each frame's payload can be given a server
// header and slid down to the end of the previous output: the output of a whole buffer is
// one contiguous region, sent with one send, straight from the receive buffer. A chunk that
// starts a buffer (a frame continued from the previous buffer) has kRecvHeadroom bytes in
// front of it for its header. A frame split across buffers leaves as several fragments.

void EchoServer::echo_frames(net::Token t, Connection& c, uint8_t* data, size_t size, int32_t ring_id,
                             uint8_t* pool_buffer) {
  uint8_t* region = nullptr;  // start of the current output region in this buffer
  uint8_t* write = nullptr;   // end of it
  auto flush_region = [&] {
    if (region && write > region) queue_segment(t, c, Segment{region, uint32_t(write - region), -1, nullptr});
    region = write = nullptr;
  };

  // Writes a frame header and slides the payload down to the end of the region.
  auto emit = [&](Opcode op, bool fin, uint8_t* payload, size_t payload_size) {
    const size_t header = core::frame_header_size(payload_size, false);
    uint8_t* at = region ? write : payload - header;
    core::write_frame_header(at, op, fin, payload_size);
    if (at + header != payload) std::memmove(at + header, payload, payload_size);
    if (!region) region = at;
    write = at + header + payload_size;
  };

  size_t pos = 0;
  while (pos < size && c.state == State::Open && !c.close_queued && !c.closing_fd) {
    core::ReadEvent ev = c.reader.next(data + pos, size - pos);
    pos += ev.consumed;
    switch (ev.type) {
      case ReadEventType::NeedMore:
        pos = size;
        break;
      case ReadEventType::Data:
        emit(ev.frame_start ? ev.frame_opcode : Opcode::Continuation, ev.frame_end && ev.frame_fin, ev.payload,
             ev.payload_size);
        if (ev.message_end) ++stats_.messages_echoed;
        break;
      case ReadEventType::Control: {
        if (ev.control_opcode == Opcode::Pong) {
          if (c.ping_outstanding) {  // any pong proves the peer is alive: ping again when due
            c.ping_outstanding = false;
            schedule_timer(c, c.last_activity_ms);
          }
          break;
        }
        if (ev.control_opcode == Opcode::Ping) {
          if (ev.control_in_input) {  // in place, like a data frame
            emit(Opcode::Pong, true, ev.payload, ev.payload_size);
          } else {
            flush_region();
            queue_control(t, c, Opcode::Pong, ev.payload, ev.payload_size);  // failing, it closes
          }
          break;
        }
        // Close: echo the peer's code (an empty close gets an empty close), then hang up.
        flush_region();
        c.peer_done = true;
        queue_close(t, c, ev.close.code, {});
        break;
      }
      case ReadEventType::Error:
        flush_region();
        ++stats_.protocol_errors;
        log_.debug("connection %u: protocol error %u (%s)", t, ev.error_code, ev.error_reason);
        c.input_broken = true;  // the rest of the stream cannot be parsed
        queue_close(t, c, ev.error_code, ev.error_reason ? ev.error_reason : "");
        break;
    }
  }
  flush_region();
  // The buffer goes back when the last segment queued from it has been sent: segments leave
  // in order, so the release rides on that one. (A segment may instead have been copied
  // aside, see spill(); then nothing points into the buffer any more.)
  if (c.out) {
    const uint8_t* lo = pool_buffer ? pool_buffer : data - net::kRecvHeadroom;
    for (size_t i = c.out->segments.size(); i > c.out->head; --i) {
      Segment& s = c.out->segments[i - 1];
      if (s.data >= lo && s.data < data + size) {
        s.ring_id = ring_id;
        s.pool_buffer = pool_buffer;
        if (c.state == State::Open) check_backpressure(t, c);
        return;
      }
    }
  }
  if (ring_id >= 0) reactor_.release_buffer(uint16_t(ring_id));
  if (pool_buffer) gather_pool_.release(pool_buffer);
  if (c.state == State::Open) check_backpressure(t, c);
}

void EchoServer::discard_until_close(net::Token t, Connection& c, uint8_t* data, size_t size) {
  (void)t;
  size_t pos = 0;
  while (pos < size && !c.peer_done && !c.input_broken) {
    core::ReadEvent ev = c.reader.next(data + pos, size - pos);
    pos += ev.consumed;
    if (ev.type == ReadEventType::NeedMore) break;
    if (ev.type == ReadEventType::Error) c.input_broken = true;
    if (ev.type == ReadEventType::Control && ev.control_opcode == Opcode::Close) c.peer_done = true;
  }
}

bool EchoServer::queue_control(net::Token t, Connection& c, Opcode opcode, const uint8_t* payload, size_t size) {
  uint8_t* out = write_pool_.acquire();
  if (!out) {
    ++stats_.pool_exhausted;
    log_.warn("write buffers exhausted: dropping connection %u", t);
    close_now(t, c, true);
    return false;
  }
  size_t n = core::write_frame_header(out, opcode, true, size);
  std::memcpy(out + n, payload, size);
  queue_segment(t, c, Segment{out, uint32_t(n + size), -1, out});
  return true;
}

void EchoServer::queue_close(net::Token t, Connection& c, uint16_t code, std::string_view reason) {
  if (c.close_queued) return;
  uint8_t* out = write_pool_.acquire();
  if (!out) {
    ++stats_.pool_exhausted;
    close_now(t, c, true);
    return;
  }
  size_t n = core::write_close_frame(out, code, reason);
  c.close_queued = true;
  c.state = State::Closing;
  queue_segment(t, c, Segment{out, uint32_t(n), -1, out});
  timers_.schedule(c.timer, reactor_.now_ms() + seconds_to_ms(config_.close_timeout_s));
  maybe_finish(t, c);
}

// ---------------------------------------------------------------------------------------
// Output: strictly ordered, one send in flight, everything queued meanwhile gathered into
// the next send.

void EchoServer::queue_segment(net::Token t, Connection& c, const Segment& s) {
  if (c.closing_fd) {  // the socket is going away: nothing more will be sent
    release_segment(s);
    return;
  }
  if (!c.out) {
    if (free_queues_.empty()) {
      all_queues_.push_back(std::make_unique<SendQueue>());
      free_queues_.push_back(all_queues_.back().get());
    }
    c.out = free_queues_.back();
    free_queues_.pop_back();
  }
  c.out->queued_bytes += s.size;
  if (c.out->stalled && append_to_spill(*c.out, s)) return;
  c.out->segments.push_back(s);
  if (!c.out->in_flight) start_send(t, c);
}

bool EchoServer::append_to_spill(SendQueue& q, const Segment& s) {
  // Only behind the spill itself (order), and only within the reserved capacity.
  if (q.segments.size() - q.head != 1 || q.spill.size() + s.size > q.spill.capacity()) return false;
  Segment& tail = q.segments[q.head];
  if (tail.data + tail.size != q.spill.data() + q.spill.size()) return false;
  q.spill.insert(q.spill.end(), s.data, s.data + s.size);
  tail.size += s.size;
  release_segment(s);
  return true;
}

void EchoServer::spill(SendQueue& q) {
  // Nothing is in flight: bytes may move. Keep the unsent rest of the spill, append every
  // other pending segment and give its buffer back.
  size_t keep_from = q.spill.size();
  size_t first = q.head;
  if (q.head < q.segments.size() && !q.spill.empty() && q.segments[q.head].data >= q.spill.data() &&
      q.segments[q.head].data < q.spill.data() + q.spill.size()) {
    keep_from = size_t(q.segments[q.head].data - q.spill.data());
    ++first;
  }
  q.spill.erase(q.spill.begin(), q.spill.begin() + ptrdiff_t(keep_from));
  size_t pending = q.spill.size();
  for (size_t i = first; i < q.segments.size(); ++i) pending += q.segments[i].size;
  q.spill.reserve(std::max<size_t>(pending, config_.max_backpressure) + config_.recv_buffer_size);
  for (size_t i = first; i < q.segments.size(); ++i) {
    const Segment& s = q.segments[i];
    q.spill.insert(q.spill.end(), s.data, s.data + s.size);
    release_segment(s);
  }
  ++stats_.spills;
  q.segments.clear();
  q.head = 0;
  if (!q.spill.empty()) q.segments.push_back(Segment{q.spill.data(), uint32_t(q.spill.size()), -1, nullptr});
  q.stalled = true;
}

void EchoServer::start_send(net::Token t, Connection& c) {
  SendQueue& q = *c.out;
  const size_t n = std::min<size_t>(q.segments.size() - q.head, kMaxIov);
  q.iov.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Segment& s = q.segments[q.head + i];
    q.iov[i] = iovec{const_cast<uint8_t*>(s.data), s.size};
  }
  q.in_flight = true;
  ++stats_.sends;
  if (q.last_progress_ms == 0) q.last_progress_ms = reactor_.now_ms();
  reactor_.send(t, q.iov.data(), int(n));
}

void EchoServer::release_segment(const Segment& s) {
  if (s.ring_id >= 0) reactor_.release_buffer(uint16_t(s.ring_id));
  if (s.pool_buffer) {
    if (write_pool_.index_of(s.pool_buffer) < write_pool_.capacity())
      write_pool_.release(s.pool_buffer);
    else
      gather_pool_.release(s.pool_buffer);
  }
}

void EchoServer::on_send(net::Token t, int result) {
  Connection& c = conn(t);
  SendQueue& q = *c.out;
  q.in_flight = false;
  if (result == -EAGAIN) {  // the peer's socket is full: hold its bytes, not our buffers
    spill(q);
    start_send(t, c);
    return;
  }
  if (result < 0) {
    log_.debug("connection %u: send failed: %s", t, strerror(-result));
    c.peer_done = true;
    close_now(t, c, true);
    return;
  }
  size_t sent = size_t(result);
  q.queued_bytes -= sent;
  q.last_progress_ms = reactor_.now_ms();
  while (q.head < q.segments.size()) {
    Segment& s = q.segments[q.head];
    if (sent < s.size) {  // a short send: continue where it stopped
      s.data += sent;
      s.size -= uint32_t(sent);
      break;
    }
    sent -= s.size;
    release_segment(s);
    ++q.head;
  }
  if (q.head < q.segments.size()) {
    start_send(t, c);
  } else {
    q.segments.clear();
    q.head = 0;
    q.queued_bytes = 0;
    q.last_progress_ms = 0;
    q.stalled = false;
    q.spill.clear();
    if (q.spill.capacity() > (256u << 10)) std::vector<uint8_t>().swap(q.spill);  // return big spills
    c.out = nullptr;
    free_queues_.push_back(&q);
  }
  if (c.recv_paused && (!c.out || c.out->queued_bytes <= config_.max_backpressure / 2)) {
    c.recv_paused = false;
    reactor_.resume_recv(t);
  }
  maybe_finish(t, c);
}

void EchoServer::check_backpressure(net::Token t, Connection& c) {
  if (!c.recv_paused && c.out && c.out->queued_bytes > config_.max_backpressure) {
    // The peer reads slower than it writes: stop reading it until it drains, and give it
    // --send-timeout to make progress.
    c.recv_paused = true;
    reactor_.pause_recv(t);
    schedule_timer(c, reactor_.now_ms());
  }
}

void EchoServer::maybe_finish(net::Token t, Connection& c) {
  if (!c.close_queued || c.closing_fd || c.out) return;
  // Everything, our close frame or final HTTP response included, has been sent.
  if (c.peer_done) {
    close_now(t, c);
    return;
  }
  // Tell the peer we are done and wait for its close or end of stream, discarding input:
  // closing a socket with unread input would reset it and could destroy our last words.
  if (!c.write_shut) {
    c.write_shut = true;
    reactor_.shutdown_write(t);
  }
}

void EchoServer::on_recv_end(net::Token t, int error) {
  Connection& c = conn(t);
  c.peer_done = true;
  if (error != 0 || !c.out) {
    close_now(t, c, error != 0);
    return;
  }
  // The peer finished sending; flush what we owe it if it still reads, then close.
  if (!c.close_queued) {
    c.close_queued = true;
    timers_.schedule(c.timer, reactor_.now_ms() + seconds_to_ms(config_.close_timeout_s));
  }
  maybe_finish(t, c);
}

void EchoServer::close_now(net::Token t, Connection& c, bool abort) {
  if (c.closing_fd) return;
  c.closing_fd = true;
  timers_.cancel(c.timer);
  // abort: reset rather than linger, the peer is gone or hostile and queued data is moot.
  reactor_.close(t, abort);
}

void EchoServer::on_closed(net::Token t) {
  Connection& c = conn(t);
  if (c.out) {  // the send was cancelled: give back everything it held
    SendQueue& q = *c.out;
    for (size_t i = q.head; i < q.segments.size(); ++i) release_segment(q.segments[i]);
    q.segments.clear();
    q.head = 0;
    q.queued_bytes = 0;
    q.last_progress_ms = 0;
    q.in_flight = false;
    q.stalled = false;
    q.spill.clear();
    if (q.spill.capacity() > (256u << 10)) std::vector<uint8_t>().swap(q.spill);
    free_queues_.push_back(&q);
    c.out = nullptr;
  }
  if (c.gather) {
    gather_pool_.release(c.gather);
    c.gather = nullptr;
  }
  timers_.cancel(c.timer);
  c.reader = core::MessageReader(core::Role::Server);  // gives back a split control frame's buffer now
  c.state = State::Free;
  free_tokens_.push_back(t);
  --live_;
  shared_.connections.fetch_sub(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------
// Timers: one link per connection, set at state changes (never per message). When it
// fires, the connection's state says what was due.

void EchoServer::schedule_timer(Connection& c, uint64_t now_ms) {
  uint64_t deadline = UINT64_MAX;
  if (c.state == State::Handshaking && c.close_queued) {
    deadline = now_ms + seconds_to_ms(config_.close_timeout_s);
  } else if (c.state == State::Open) {
    // The next ping is due after one silent interval; a peer that stays silent for another
    // interval after our ping is gone.
    if (config_.ping_interval_s > 0)
      deadline = std::min(deadline, c.last_activity_ms + seconds_to_ms(config_.ping_interval_s) * (c.ping_outstanding ? 2 : 1));
    if (config_.idle_timeout_s > 0)
      deadline = std::min(deadline, c.last_activity_ms + seconds_to_ms(config_.idle_timeout_s));
    if (c.out && c.recv_paused)
      deadline = std::min(deadline, c.out->last_progress_ms + seconds_to_ms(config_.send_timeout_s));
  }
  if (deadline == UINT64_MAX)
    timers_.cancel(c.timer);
  else
    timers_.schedule(c.timer, std::max(deadline, now_ms));
}

void EchoServer::on_timer(net::Token t, Connection& c, uint64_t now_ms) {
  switch (c.state) {
    case State::Free:
      return;
    case State::Handshaking:
      if (!c.close_queued) ++stats_.handshake_timeouts;
      log_.debug("connection %u: handshake timeout", t);
      close_now(t, c, true);
      return;
    case State::Closing:
      log_.debug("connection %u: close timeout", t);
      close_now(t, c, true);
      return;
    case State::Open:
      break;
  }
  if (c.out && c.recv_paused && now_ms >= c.out->last_progress_ms + seconds_to_ms(config_.send_timeout_s)) {
    ++stats_.send_timeouts;
    log_.debug("connection %u: send timeout, peer does not read", t);
    close_now(t, c, true);
    return;
  }
  const uint64_t silent = now_ms - std::min(now_ms, c.last_activity_ms);
  if (config_.idle_timeout_s > 0 && silent >= seconds_to_ms(config_.idle_timeout_s)) {
    ++stats_.idle_timeouts;
    queue_close(t, c, core::close_code::going_away, "idle timeout");
    return;
  }
  if (config_.ping_interval_s > 0 && c.ping_outstanding && silent >= 2 * seconds_to_ms(config_.ping_interval_s)) {
    ++stats_.idle_timeouts;
    queue_close(t, c, core::close_code::going_away, "ping timeout");
    return;
  }
  if (config_.ping_interval_s > 0 && !c.ping_outstanding && silent >= seconds_to_ms(config_.ping_interval_s)) {
    c.ping_outstanding = true;
    static const uint8_t kPingPayload[] = {'w', 's', 'r', 'i', 'n', 'g'};
    if (!queue_control(t, c, Opcode::Ping, kPingPayload, sizeof kPingPayload)) return;
  }
  schedule_timer(c, now_ms);
}

void EchoServer::on_tick(uint64_t now_ms) {
  timers_.advance(now_ms, [&](net::TimerLink& link) {
    // The link is the first member of Connection.
    Connection& c = *reinterpret_cast<Connection*>(&link);
    on_timer(c.token, c, now_ms);
  });
  if (!shutting_down_ && shared_.stop.load(std::memory_order_relaxed)) begin_shutdown(now_ms);
  if (shutting_down_) {
    if (live_ == 0) {
      reactor_.stop();
    } else if (now_ms >= shutdown_deadline_ms_) {
      for (Connection& c : connections_)
        if (c.state != State::Free) close_now(c.token, c, true);
      if (now_ms >= shutdown_deadline_ms_ + 1000) reactor_.stop();  // the closes did not come back
    }
  }
}

void EchoServer::begin_shutdown(uint64_t now_ms) {
  shutting_down_ = true;
  shutdown_deadline_ms_ = now_ms + seconds_to_ms(config_.close_timeout_s);
  reactor_.stop_accepting();
  // Close the listener too: connections still in its backlog are refused at once instead
  // of hanging until the process exits.
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  for (Connection& c : connections_) {
    if (c.closing_fd) continue;
    if (c.state == State::Handshaking && !c.close_queued)
      close_now(c.token, c);
    else if (c.state == State::Open)
      queue_close(c.token, c, core::close_code::going_away, "server shutting down");
  }
}

}  // namespace wsring::server
