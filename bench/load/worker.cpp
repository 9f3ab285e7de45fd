#include "bench/load/worker.hpp"

#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bench/load/reconnect.hpp"
#include "core/close.hpp"
#include "core/frame.hpp"
#include "core/unmask.hpp"

namespace wsring::load {

using core::Opcode;
using core::ReadEventType;

namespace {

constexpr uint64_t kScanIntervalNs = 50'000'000;

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

uint64_t ns_to_us(uint64_t ns) { return (ns + 500) / 1000; }

std::string seconds_text(double seconds) {
  char text[32];
  snprintf(text, sizeof text, "%g", seconds);
  return text;
}

std::string describe_bytes(const uint8_t* data, size_t size) {
  std::string out;
  char hex[4];
  for (size_t i = 0; i < size && i < 8; ++i) {
    snprintf(hex, sizeof hex, "%02x", data[i]);
    if (i) out += ' ';
    out += hex;
  }
  return out;
}

}  // namespace

uint64_t run_clock_ns(const SharedRun& run) { return monotonic_ns() - run.epoch_ns; }

LoadWorker::LoadWorker(const LoadOptions& options, const WorkerPlan& plan, SharedRun& run, LiveCounters& live,
                       net::Reactor& reactor)
    : options_(options),
      plan_(plan),
      run_(run),
      live_(live),
      reactor_(reactor),
      // Mixed types use the printable pattern for binary messages too: valid as either.
      pattern_(options.handshake_only ? kStampSize : options.size_max, options.text || options.text_ratio >= 0),
      handshake_timeout_ns_(uint64_t(options.handshake_timeout_s * 1e9)),
      pipeline_(options.pipeline),
      opcode_(options.text ? Opcode::Text : Opcode::Binary),
      rng_state_(0x9E3779B97F4A7C15ull ^ (uint64_t(plan.index) << 32) ^ monotonic_ns()) {
  const uint32_t count = local_count(options.connections, plan.workers, plan.index);
  // Room for `pipeline` data frames plus a pong and a close (the reserve), or for the upgrade request.
  const uint64_t frames = options.handshake_only ? 0 : uint64_t(pipeline_) * (options.size_max + core::kMaxFrameHeaderSize);
  const uint64_t request =
      512 + options.url.host_header.size() + options.url.path.size() + options.upgrade.request_bytes();
  buffer_capacity_ = uint32_t(frames + std::max<uint64_t>(request, 2 * kControlFrameMax));
  buffer_slab_.reset(new uint8_t[size_t(buffer_capacity_) * 2 * count]);
  if (!options.handshake_only) {
    ring_time_.reset(new uint64_t[size_t(pipeline_) * count]());
    ring_size_.reset(new uint32_t[size_t(pipeline_) * count]());
    ring_stamp_.reset(new uint8_t[size_t(pipeline_) * count * kStampSize]());
  }
  reader_limits_.max_message_size = std::max<uint64_t>(16u << 20, 2 * options.size_max);

  connections_.resize(count);
  ready_.reserve(count);
  for (uint32_t j = 0; j < count; ++j) {
    Connection& c = connections_[j];
    c.local = j;
    c.global_id = j * plan.workers + plan.index;
    c.buf[0] = buffer_slab_.get() + size_t(buffer_capacity_) * 2 * j;
    c.buf[1] = c.buf[0] + buffer_capacity_;
    if (options.url.tls) c.tls = std::make_unique<TlsLink>();
  }
  if (options.url.tls) plain_ = std::make_unique_for_overwrite<uint8_t[]>(kPlainSize);
  for (uint32_t j = count; j > 0; --j) ready_.push_back(j - 1);
  unresolved_first_attempts_ = count;

  double interval_s = 0;
  if (options.connect_rate > 0) interval_s = 1.0 / options.connect_rate;
  if (options.ramp_up_s > 0) interval_s = std::max(interval_s, options.ramp_up_s / options.connections);
  connect_interval_ns_ = uint64_t(interval_s * 1e9 * plan.workers);
  // Interleave the workers' connects: worker i starts i/workers of an interval late.
  next_connect_ns_ = connect_interval_ns_ / plan.workers * plan.index;

  for (const std::string& p : options.upgrade.subprotocols) subprotocols_.push_back(p);
  extra_headers_ = request_headers(options.upgrade, authorization_);
  if (options.deflate) {
    deflate_offer_ = "permessage-deflate; " + options.deflate_params;
    extra_headers_.push_back({"Sec-WebSocket-Extensions", deflate_offer_});
  }
  mixed_types_ = options.text_ratio >= 0;
  text_ratio_ = TextRatio::from(std::max(0.0, options.text_ratio));
  if (options.reconnect) {
    reconnect_failures_.assign(count, 0);
    reconnect_at_ns_.assign(count, 0);
    reconnect_waiting_.reserve(count);
  }

  if (!options.stages.empty()) {
    stages_ = &options.stages;
    staged_rate_ = stages_->has_rate();
    if (staged_rate_) stage_due_.resize(count);
    ready_.clear();  // the plan says when each connection opens
    live_.connect_done.store(true);
  }
  if (options.rate > 0)
    scheduler_ = std::make_unique<RateScheduler>(options.rate, options.connections, plan.index, plan.workers, count);
  if (options.scenario == Scenario::Push) push_ = std::make_unique<PushStreams>(count);
  if (options.scenario == Scenario::Shootout) {
    shootout_ = plan.shootout;
    shootout_seen_.resize(count);
    shootout_base_.assign(count, 0);
    ready_.clear();  // the board says how many clients open
    live_.connect_done.store(true);
  }
  if (options.scenario == Scenario::Pubsub) {
    pubsub_ = plan.pubsub;
    pubsub_seen_.resize(count);
    pubsub_subscribed_.assign(count, 0);
  }
  if (count == 0) live_.connect_done.store(true);
  if (plan.message_budget == 0 && options.messages > 0) live_.exhausted.store(true);
}

LoadWorker::~LoadWorker() = default;

void LoadWorker::run() {
  // --rate waits for each send's time in the kernel: 50 us of default timer slack would make
  // every paced send that much late.
  if (scheduler_ || staged_rate_) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  start_connects(now_ns());
  reactor_.run(*this);
  live_.finished.store(true);
}

WorkerTotals LoadWorker::take_totals() {
  totals_.sent = live_.sent.get();
  totals_.received = live_.received.get();
  totals_.bytes_sent = live_.bytes_sent.get();
  totals_.bytes_received = live_.bytes_received.get();
  totals_.lost = live_.lost.get() + totals_.push.lost;
  totals_.in_flight = live_.in_flight_at_close.get() + outstanding_total_;
  totals_.mismatched = live_.mismatched.get();
  totals_.opened = live_.opened.get();
  totals_.failed = live_.failed.get();
  totals_.unanswered = live_.unanswered.get();
  totals_.unsolicited = live_.unsolicited.get();
  totals_.reconnects = live_.reconnects.get();
  return std::move(totals_);
}

void LoadWorker::move(Connection& c, ConnEvent event) {
  const std::optional<ConnState> next = next_state(c.state, event);
  if (!next) {
    std::fprintf(stderr, "wsring-load: connection %u: illegal move %s --%s->\n", c.global_id, to_string(c.state),
                 to_string(event));
    assert(!"illegal connection state transition");
    return;
  }
  c.state = *next;
}

void LoadWorker::count_error(ErrorKind kind, const std::string& detail) {
  const size_t k = size_t(kind);
  if (totals_.errors[k]++ == 0) totals_.first_detail[k] = detail;
  live_.errors.add();
}

// ---------------------------------------------------------------------------------------
// Connecting and the opening handshake

void LoadWorker::start_connects(uint64_t now) {
  const RunPhase phase = RunPhase(run_.phase.load(std::memory_order_relaxed));
  if (draining_ || phase >= RunPhase::Draining) return;
  // Bounded by the queue's length on entry: a refused attempt requeues itself.
  for (size_t budget = ready_.size(); budget > 0 && !ready_.empty() && pending_handshakes_ < kMaxPendingHandshakes &&
                                      now >= next_connect_ns_;
       --budget) {
    const uint32_t local = ready_.back();
    ready_.pop_back();
    if (connections_[local].retired || connections_[local].state != ConnState::Idle) continue;  // --stage
    if (connect_interval_ns_) {
      // Keep the pace; after a stall allow a short burst, not an unbounded catch-up.
      next_connect_ns_ = std::max(next_connect_ns_ + connect_interval_ns_, now > connect_interval_ns_ ? now - connect_interval_ns_ : 0);
    }
    start_connect(connections_[local], now);
  }
}

void LoadWorker::start_connect(Connection& c, uint64_t now) {
  const net::Token t = c.local;
  c.send_in_flight = c.pong_queued = false;
  c.msg_active = c.msg_bad = false;
  c.fill = 0;
  c.fill_len = c.fly_len = c.fly_off = 0;
  if (options_.reconnect) {
    // Sequences go on where the last connection of this slot stopped: --rate keeps its schedule.
    c.wire_seq = c.acked_seq = c.next_seq;
    c.due_seq = std::max(c.due_seq, c.next_seq);
    if (!c.first_attempt) live_.reconnects.add();
  } else {
    c.next_seq = c.wire_seq = c.acked_seq = c.due_seq = 0;
  }
  c.head.clear();
  c.started_ns = now;
  c.deadline_ns = now + handshake_timeout_ns_;
  ++connect_attempts_;

  const int fd = ::socket(plan_.target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // No socket: the connection stays Idle. --handshake-only runs retry it later; a plain run
  // goes on with the connections it got.
  auto refuse = [&](const std::string& what, int error) {
    count_error(ErrorKind::ConnectFailed, what + ": " + strerror(error));
    if (c.first_attempt) live_.failed.add();
    resolve_first_attempt(c);
    if (options_.handshake_only) ready_.insert(ready_.begin(), c.local);
    else if (options_.reconnect && !draining_) schedule_reconnect(c, now);
  };
  if (fd < 0) {
    refuse("socket", errno);
    return;
  }
  if (!plan_.sources.empty()) {
    const net::SocketAddress& source = plan_.sources[(connect_attempts_ * plan_.workers + plan_.index) % plan_.sources.size()];
    // Pick the port at connect() time from the whole 4-tuple, not at bind() time from the
    // source address alone: that is what lifts the ephemeral port limit.
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd, source.get(), source.length) < 0) {
      const int error = errno;
      ::close(fd);
      refuse("bind " + source.to_string(), error);
      return;
    }
  }
  move(c, ConnEvent::Connect);
  ++pending_handshakes_;
  ++live_connections_;
  reactor_.connect(t, fd, plan_.target.get(), plan_.target.length);
}

void LoadWorker::resolve_first_attempt(Connection& c) {
  if (!c.first_attempt) return;
  c.first_attempt = false;
  if (--unresolved_first_attempts_ == 0) live_.connect_done.store(true, std::memory_order_relaxed);
}

void LoadWorker::on_accept(int fd, int) { ::close(fd); }  // never listens

void LoadWorker::on_connect(net::Token t, int result) {
  Connection& c = connections_[t];
  if (c.state != ConnState::Connecting) return;
  const uint64_t now = now_ns();
  if (result < 0) {
    fail(t, c, ErrorKind::ConnectFailed, std::string("connect: ") + strerror(-result));
    return;
  }
  totals_.connect_us.record(ns_to_us(now - c.started_ns));
  if (c.tls) {
    start_tls(t, c, now);  // the upgrade request follows the TLS handshake
    return;
  }
  move(c, ConnEvent::Connected);
  queue_upgrade_request(c, now);
  flush(t, c);
}

void LoadWorker::queue_upgrade_request(Connection& c, uint64_t now) {
  core::generate_client_key(c.key);
  core::ClientRequestOptions request;
  request.host = options_.url.host_header;
  request.path = options_.url.path;
  request.subprotocols = subprotocols_;
  request.extra_headers = extra_headers_;
  request.origin = options_.upgrade.origin;
  const size_t n = core::write_client_request(
      std::span<char>(reinterpret_cast<char*>(c.buf[c.fill] + c.fill_len), buffer_capacity_ - c.fill_len),
      std::string_view(c.key, core::kClientKeySize), request);
  c.fill_len += uint32_t(n);
  c.upgrade_ns = now;
}

void LoadWorker::handle_handshake(net::Token t, Connection& c, uint8_t* data, size_t size, uint64_t now) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  uint8_t* base = data;
  if (!c.head.empty()) {
    c.head.append(input);
    input = c.head;
    base = reinterpret_cast<uint8_t*>(c.head.data());
  }
  const core::ClientHandshakeResult r =
      core::validate_upgrade_response(input, std::string_view(c.key, core::kClientKeySize), subprotocols_, 8192,
                                      options_.deflate);
  if (r.error == core::ClientHandshakeError::NeedMore) {
    if (c.head.empty()) c.head.assign(input);
    return;
  }
  if (r.error != core::ClientHandshakeError::None) {
    std::string detail = "connection " + std::to_string(c.global_id) + ": upgrade refused: " + core::to_string(r.error);
    if (r.status) detail += " (HTTP " + std::to_string(r.status) + ")";
    fail(t, c, ErrorKind::HandshakeFailed, detail);
    return;
  }
  totals_.handshake_us.record(ns_to_us(now - c.started_ns));
  totals_.upgrade_us.record(ns_to_us(now - c.upgrade_ns));
  move(c, ConnEvent::Upgraded);
  if (shootout_) shootout_opened(c);  // before it counts as open: main issues broadcasts once all are
  --pending_handshakes_;
  live_.open.add();
  live_.opened.add();
  if (options_.reconnect) {
    if (!c.first_attempt) ++totals_.reconnected;
    reconnect_failures_[c.local] = 0;
  }
  resolve_first_attempt(c);
  c.deadline_ns = ~uint64_t{0};
  c.reader = core::MessageReader(core::Role::Client, reader_limits_);
  if (options_.deflate && !agree_deflate(t, c, r.extensions)) return;
  if (push_) push_->reset(c.local);
  if (pubsub_) pubsub_opened(c);

  if (options_.handshake_only || draining_) begin_close(t, c, now);
  // Frames may follow the head in the same receive (not from an echo server, but legal).
  if (r.consumed < input.size()) handle_frames(t, c, base + r.consumed, input.size() - r.consumed, now);
  c.head.clear();
  if (c.state == ConnState::Open) {
    top_up(c, now);
    flush(t, c);
  }
  start_connects(now);
}

// ---------------------------------------------------------------------------------------
// Messages out

// Traffic waits until every connection is open (the measured window), so that a busy server
// is not asked to upgrade connections while it echoes; --ramp-up asks for the opposite: load
// that grows as the connections come.
bool LoadWorker::sending_allowed() const {
  return !draining_ && !options_.handshake_only && options_.scenario == Scenario::Echo &&
         (running_ || options_.ramp_up_s > 0);
}

void LoadWorker::top_up(Connection& c, uint64_t now) {
  if (c.state != ConnState::Open || !sending_allowed()) return;
  uint64_t limit = c.acked_seq + pipeline_;
  if (scheduler_) limit = std::min(limit, c.due_seq);
  if (staged_rate_) limit = std::min<uint64_t>(limit, c.next_seq + stage_due_[c.local].size());
  if (plan_.message_budget) limit = std::min(limit, c.next_seq + (plan_.message_budget - sent_));
  if (!scheduler_ && !staged_rate_) {
    while (c.next_seq < limit)
      if (!write_message(c, now)) break;
    return;
  }
  while (c.next_seq < limit) {
    const uint64_t intended = scheduler_ ? scheduler_->intended_ns(c.local, c.next_seq) : stage_due_[c.local].front();
    if (!write_message(c, intended)) break;
    if (staged_rate_) stage_due_[c.local].pop_front();
    const uint64_t lag = now > intended ? now - intended : 0;  // the open loop's own honesty
    totals_.send_lag_us.record(ns_to_us(lag));
    if (lag > kLateSendNs) ++totals_.late;
  }
}

bool LoadWorker::write_message(Connection& c, uint64_t stamp_ns) {
  const bool templated = !options_.messages_from.empty();
  if (templated) render_message(c, stamp_ns);
  uint64_t size = templated ? rendered_.size() : options_.size_min;
  if (!templated && !options_.sizes.fixed()) size = options_.sizes.pick(next_random(rng_state_), next_random(rng_state_));
  const bool text = mixed_types_ ? text_ratio_.draw(next_random(rng_state_)) : opcode_ == Opcode::Text;
  const size_t header = core::frame_header_size(size, true);
  if (header + size > room(c, 2 * kControlFrameMax)) return false;  // cannot happen: the window bounds the buffer
  const size_t slot = size_t(c.local) * pipeline_ + c.next_seq % pipeline_;
  uint8_t* stamp = &ring_stamp_[slot * kStampSize];
  encode_stamp(Stamp{c.global_id, uint32_t(c.next_seq), stamp_ns}, stamp);
  ring_time_[slot] = stamp_ns;
  ring_size_[slot] = uint32_t(size) | (text ? kRingText : 0);
  const Opcode opcode = text ? Opcode::Text : Opcode::Binary;
  if (c.deflate) [[unlikely]] {  // never with templates: the options refuse --deflate with them
    if (!write_deflated(c, size, Stamp{c.global_id, uint32_t(c.next_seq), stamp_ns}, opcode)) return false;
  } else {
    uint8_t* dst = c.buf[c.fill] + c.fill_len;
    uint8_t key[4];
    masks_.next(key);
    core::write_frame_header(dst, opcode, true, size, key);
    if (templated) {
      std::memcpy(dst + header, rendered_.data(), size);
      core::apply_mask(dst + header, size, key, 0);
    } else {
      write_masked_payload(dst + header, size, stamp, pattern_, key);
    }
    c.fill_len += uint32_t(header + size);
  }
  ++c.next_seq;
  ++sent_;
  ++outstanding_total_;
  live_.sent.add();
  live_.bytes_sent.add(size);
  return true;
}

void LoadWorker::pump_rate(uint64_t now) {
  if (!rate_started_ || draining_) return;
  if (staged_rate_) {
    pump_staged(now);
    return;
  }
  while (scheduler_->due(now)) {
    Connection& c = connections_[scheduler_->next_local()];
    const uint64_t sequence = scheduler_->next_sequence();
    scheduler_->advance();
    if (c.state != ConnState::Open) {
      // A connection not open when its message is due (closed, or reopening with --reconnect)
      // sends nothing: the message is dropped, and once open again it resumes on schedule.
      ++totals_.dropped;
      if (outstanding(c) == 0) c.next_seq = c.wire_seq = c.acked_seq = c.due_seq = sequence + 1;
      continue;
    }
    c.due_seq = sequence + 1;
    top_up(c, now);
    flush(c.local, c);
  }
}

void LoadWorker::queue_pong(Connection& c, const uint8_t* payload, size_t size) {
  if (c.pong_queued || c.state != ConnState::Open || kControlFrameMax > room(c, kControlFrameMax)) return;
  uint8_t key[4];
  masks_.next(key);
  uint8_t* dst = c.buf[c.fill] + c.fill_len;
  const size_t header = core::write_frame_header(dst, Opcode::Pong, true, size, key);
  std::memcpy(dst + header, payload, size);
  core::apply_mask(dst + header, size, key, 0);
  c.fill_len += uint32_t(header + size);
  c.pong_queued = true;
}

// ---------------------------------------------------------------------------------------
// Echoes in

bool LoadWorker::queue_close(Connection& c, uint16_t code) {
  if (kControlFrameMax > room(c, 0)) return false;  // write_close_frame's contract: room for the largest
  uint8_t key[4];
  masks_.next(key);
  c.fill_len += uint32_t(core::write_close_frame(c.buf[c.fill] + c.fill_len, code, {}, key));
  return true;
}

void LoadWorker::on_recv(net::Token t, const net::RecvBuffer& b) {
  Connection& c = connections_[t];
  const uint64_t now = now_ns();
  if (c.tls) {
    receive_tls(t, c, b, now);  // decrypts, deliver()s the plaintext, releases the buffer
  } else {
    deliver(t, c, b.data, b.size, now);
    reactor_.release_buffer(b.id);
  }
  if (rate_started_) pump_rate(now);
}


void LoadWorker::handle_frames(net::Token t, Connection& c, uint8_t* data, size_t size, uint64_t now) {
  size_t pos = 0;
  while (pos < size && reads_frames(c.state)) {
    const core::ReadEvent ev = c.reader.next(data + pos, size - pos);
    pos += ev.consumed;
    switch (ev.type) {
      case ReadEventType::NeedMore:
        pos = size;
        break;
      case ReadEventType::Data:
        if (push_) {
          on_push_chunk(c, ev, now);
          break;
        }
        if (shootout_) {
          on_shootout_chunk(c, ev, now);
          break;
        }
        if (pubsub_) {
          on_pubsub_chunk(c, ev, now);
          break;
        }
        if (ev.compressed) [[unlikely]] {
          if (!on_compressed_echo(t, c, ev, now)) return;
          break;
        }
        if (ev.frame_start && ev.frame_opcode != Opcode::Continuation && !begin_echo(c, ev.message_opcode)) return;
        if (c.deflate) {  // an echo the server sent uncompressed (below its threshold)
          totals_.deflate_plain_received += ev.payload_size;
          totals_.deflate_wire_received += ev.payload_size;
        }
        check_chunk(c, ev.payload, ev.payload_size);
        if (ev.message_end) finish_echo(c, now);
        break;
      case ReadEventType::Control:
        if (ev.control_opcode == Opcode::Ping) {
          queue_pong(c, ev.payload, ev.payload_size);
        } else if (ev.control_opcode == Opcode::Close) {
          if (c.state == ConnState::Open) {
            // The server closed on its own: whatever was outstanding will never come back.
            std::string detail = "connection " + std::to_string(c.global_id) + ": server sent close " +
                                 std::to_string(ev.close.code);
            if (!ev.close.reason.empty()) detail += " (" + std::string(ev.close.reason) + ")";
            count_error(ErrorKind::UnexpectedClose, detail);
            lose_outstanding(c);
            // Answer it as RFC 6455 §5.5.1 asks, echoing its code (an empty close, 1005, gets an
            // empty close), then wait for the server to end TCP.
            queue_close(c, ev.close.code);
          }
          move(c, ConnEvent::ServerClose);  // PeerClosed, or Closed when ours went first
          c.deadline_ns = now + kEofGraceNs;
          flush(t, c);
          return;
        }
        break;  // a pong: nothing to do
      case ReadEventType::Error:
        fail_protocol(t, c, ErrorKind::ProtocolError, ev.error_code,
                      "connection " + std::to_string(c.global_id) + ": " + std::to_string(ev.error_code) + " " +
                          (ev.error_reason ? ev.error_reason : ""));
        return;
    }
  }
  if (c.pong_queued) flush(t, c);
}

bool LoadWorker::begin_echo(Connection& c, Opcode opcode) {
  if (options_.match != MatchMode::Echo && (c.acked_seq == c.wire_seq || options_.match == MatchMode::None)) {
    c.msg_active = false;  // --match count|none: a message that answers nothing is only counted
    c.msg_offset = 0;
    return true;
  }
  if (c.acked_seq == c.wire_seq) {
    // Nothing sent is waiting for its echo (what is still in the filling buffer has not left):
    // taking this for an echo would let the server pace our sends.
    fail_protocol(c.local, c, ErrorKind::UnexpectedMessage, core::close_code::protocol_error,
                  "connection " + std::to_string(c.global_id) + ": a message answered nothing sent (" +
                      std::to_string(c.acked_seq) + " echoed of " + std::to_string(c.wire_seq) + " sent)");
    return false;
  }
  c.msg_active = true;
  c.msg_offset = 0;
  c.msg_bad = false;
  c.reply_head.clear();
  const size_t slot = size_t(c.local) * pipeline_ + c.acked_seq % pipeline_;
  c.msg_expected = ring_size_[slot] & ~kRingText;
  c.msg_text = (ring_size_[slot] & kRingText) != 0;
  std::memcpy(c.expect_stamp, &ring_stamp_[slot * kStampSize], kStampSize);
  if (options_.match != MatchMode::Echo) return true;  // count: any reply answers the oldest
  if (opcode != (c.msg_text ? Opcode::Text : Opcode::Binary)) {
    c.msg_bad = true;
    if (totals_.errors[size_t(ErrorKind::Mismatch)] == 0)
      totals_.first_detail[size_t(ErrorKind::Mismatch)] =
          "connection " + std::to_string(c.global_id) + " message " + std::to_string(c.acked_seq) + ": sent " +
          (c.msg_text ? "text" : "binary") + ", echoed " + (opcode == Opcode::Text ? "text" : "binary");
  }
  return true;
}

void LoadWorker::check_chunk(Connection& c, const uint8_t* data, size_t size) {
  const uint64_t offset = c.msg_offset;
  c.msg_offset += size;
  if (options_.match == MatchMode::Id && c.msg_active && c.reply_head.size() < kReplyIdWindow)
    c.reply_head.append(reinterpret_cast<const char*>(data), std::min(size, kReplyIdWindow - c.reply_head.size()));
  if (!c.msg_active || c.msg_bad || options_.match != MatchMode::Echo) return;
  const uint64_t room = c.msg_expected > offset ? c.msg_expected - offset : 0;
  const size_t comparable = size_t(std::min<uint64_t>(size, room));
  const size_t first = find_mismatch(data, comparable, offset, c.expect_stamp, pattern_);
  if (first == comparable && size <= room) return;
  c.msg_bad = true;
  std::string& detail = totals_.first_detail[size_t(ErrorKind::Mismatch)];
  if (totals_.errors[size_t(ErrorKind::Mismatch)] != 0 || !detail.empty()) return;
  detail = "connection " + std::to_string(c.global_id) + " message " + std::to_string(c.acked_seq);
  if (first < comparable) {
    const uint64_t at = offset + first;
    const uint8_t expected = at < kStampSize ? c.expect_stamp[at] : pattern_.bytes()[at];
    char text[128];
    snprintf(text, sizeof text, ": byte %llu is 0x%02x, sent 0x%02x (received from there: %s)",
             static_cast<unsigned long long>(at), data[first], expected,
             describe_bytes(data + first, size - first).c_str());
    detail += text;
  } else {
    detail += ": echo longer than the " + std::to_string(c.msg_expected) + " bytes sent";
  }
}

void LoadWorker::finish_echo(Connection& c, uint64_t now) {
  if (!c.msg_active) {  // --match count|none: it answered nothing outstanding
    live_.unsolicited.add();
    return;
  }
  if (options_.match == MatchMode::Id) {
    finish_reply_by_id(c, now);
    return;
  }
  c.msg_active = false;
  if (!c.msg_bad && options_.match == MatchMode::Echo && c.msg_offset != c.msg_expected) {
    c.msg_bad = true;
    if (totals_.errors[size_t(ErrorKind::Mismatch)] == 0 && totals_.first_detail[size_t(ErrorKind::Mismatch)].empty())
      totals_.first_detail[size_t(ErrorKind::Mismatch)] =
          "connection " + std::to_string(c.global_id) + " message " + std::to_string(c.acked_seq) + ": echo of " +
          std::to_string(c.msg_offset) + " bytes, sent " + std::to_string(c.msg_expected);
  }
  const size_t slot = size_t(c.local) * pipeline_ + c.acked_seq % pipeline_;
  live_.received.add();
  live_.bytes_received.add(c.msg_offset);
  if (c.msg_bad) {
    live_.mismatched.add();
    const std::string keep = totals_.first_detail[size_t(ErrorKind::Mismatch)];
    count_error(ErrorKind::Mismatch, keep);
  } else {
    const uint64_t sent_at = ring_time_[slot];
    const uint64_t latency_us = ns_to_us(now > sent_at ? now - sent_at : 0);
    totals_.latency_us.record(latency_us);
    if (plan_.latency_intervals) plan_.latency_intervals->record(now, latency_us);
  }
  ++c.acked_seq;
  --outstanding_total_;
  live_.last_echo_ns.set(now);
}

// ---------------------------------------------------------------------------------------
// Output: the filling buffer goes out in one send once the previous send is complete.

void LoadWorker::flush(net::Token t, Connection& c) {
  if (c.send_in_flight) return;
  if (c.tls) {
    flush_tls(t, c);  // encrypts the filling buffer; handshake records may be waiting without it
    return;
  }
  if (c.fill_len == 0) return;
  if (c.state == ConnState::Idle || c.state == ConnState::Connecting || c.state == ConnState::Dying) return;
  c.fly_len = c.fill_len;
  c.fly_off = 0;
  c.wire_seq = c.next_seq;  // every message written so far is in this send or an earlier one
  c.fill ^= 1;
  c.fill_len = 0;
  c.pong_queued = false;
  send_in_flight_buffer(t, c);
}

void LoadWorker::on_send(net::Token t, int result) {
  Connection& c = connections_[t];
  c.send_in_flight = false;
  if (c.state == ConnState::Dying || c.state == ConnState::Idle) return;
  if (result == -EAGAIN) {
    send_in_flight_buffer(t, c);  // the socket was full, nothing went: the reactor waits for room
    return;
  }
  if (result < 0) {
    fail(t, c, ErrorKind::SendError, "connection " + std::to_string(c.global_id) + ": send: " + strerror(-result));
    return;
  }
  c.fly_off += uint32_t(result);
  if (c.fly_off < c.fly_len) {
    send_in_flight_buffer(t, c);  // a short send: the rest, from where it stopped
    return;
  }
  c.fly_len = c.fly_off = 0;
  if (options_.match == MatchMode::None) complete_unanswered(c);
  flush(t, c);
}

// ---------------------------------------------------------------------------------------
// Ending connections

void LoadWorker::begin_close(net::Token t, Connection& c, uint64_t now) {
  if (c.state != ConnState::Open) return;
  if (!queue_close(c, core::close_code::normal)) {
    finish(t, c, true);  // cannot happen: the reserve keeps room for it
    return;
  }
  move(c, ConnEvent::CloseQueued);
  c.deadline_ns = now + kCloseTimeoutNs;
  flush(t, c);
}

void LoadWorker::fail(net::Token t, Connection& c, ErrorKind kind, const std::string& detail) {
  if (c.state == ConnState::Dying || c.state == ConnState::Idle) return;
  count_error(kind, detail);
  lose_outstanding(c);
  if (is_opening(c.state)) {
    --pending_handshakes_;
    if (c.first_attempt) live_.failed.add();
    resolve_first_attempt(c);
  }
  close_socket(t, c, true);
}

void LoadWorker::fail_protocol(net::Token t, Connection& c, ErrorKind kind, uint16_t code, const std::string& detail) {
  // Only an Open connection can still say why; after our close (CloseSent) the socket is reset.
  if (c.state != ConnState::Open || kControlFrameMax > room(c, 0)) {
    fail(t, c, kind, detail);
    return;
  }
  count_error(kind, detail);
  lose_outstanding(c);
  queue_close(c, code);
  move(c, ConnEvent::Violation);
  c.deadline_ns = now_ns() + kEofGraceNs;
  flush(t, c);
}

void LoadWorker::lose_outstanding(Connection& c) {
  live_.lost.add(outstanding(c) - answered_early(c));
  outstanding_total_ -= outstanding(c);
  c.acked_seq = c.next_seq;
}

void LoadWorker::finish(net::Token t, Connection& c, bool reset) {
  if (c.state == ConnState::Dying || c.state == ConnState::Idle) return;
  // Closed by us at the end of the run: what is still outstanding was in flight, not lost.
  live_.in_flight_at_close.add(outstanding(c) - answered_early(c));
  outstanding_total_ -= outstanding(c);
  c.acked_seq = c.next_seq;
  if (c.state == ConnState::Closed) ++totals_.closed_cleanly;
  if (is_opening(c.state)) {
    --pending_handshakes_;
    resolve_first_attempt(c);
  }
  close_socket(t, c, reset);
}

void LoadWorker::close_socket(net::Token t, Connection& c, bool reset) {
  if (is_upgraded(c.state)) live_.open.sub();
  move(c, ConnEvent::Drop);
  reactor_.close(t, reset);
}

void LoadWorker::on_recv_end(net::Token t, int error) {
  Connection& c = connections_[t];
  if (c.state == ConnState::Idle || c.state == ConnState::Dying) return;
  if (awaits_eof(c.state)) {
    finish(t, c, false);  // the close handshake is complete and the server ended TCP first
    return;
  }
  const std::string who = "connection " + std::to_string(c.global_id);
  if (c.state == ConnState::TlsHandshaking) {
    c.tls->session.end_of_input();  // EofInHandshake
    fail_tls(t, c, error ? std::string(" (reset: ") + strerror(-error) + ")" : std::string());
    return;
  }
  if (c.state == ConnState::Connecting || c.state == ConnState::Handshaking) {
    fail(t, c, ErrorKind::HandshakeFailed,
         who + ": the server " + (error ? std::string("reset the connection: ") + strerror(-error) : "ended the stream") +
             " before a 101 response");
  } else if (error == 0) {
    fail(t, c, ErrorKind::UnexpectedEof, who + ": the server ended the stream without a close handshake");
  } else {
    fail(t, c, ErrorKind::RecvError, who + ": recv: " + strerror(-error));
  }
}

void LoadWorker::on_closed(net::Token t) {
  Connection& c = connections_[t];
  move(c, ConnEvent::Released);
  c.send_in_flight = false;
  if (c.tls) c.tls->reset(options_.tls.resume);  // the reactor is done with its buffers now
  --live_connections_;
  if (staged_rate_ && !stage_due_[c.local].empty()) {  // due on a connection that is gone: never written
    totals_.dropped += stage_due_[c.local].size();
    stage_due_[c.local].clear();
  }
  const bool wanted = !stages_ || (!c.retired && c.local < stage_target_);  // --stage: still targeted
  if (stages_ && c.retired) {
    c.retired = false;
    if (c.local < stage_target_ && !draining_) ready_.push_back(c.local);  // the target rose again meanwhile
  }
  if (options_.reconnect && wanted && !options_.handshake_only && !draining_ && !aborted_)
    schedule_reconnect(c, now_ns());
  if (options_.handshake_only && !draining_ && !aborted_) {
    ready_.insert(ready_.begin(), c.local);  // oldest idle first
    start_connects(now_ns());
  }
  update_flags();
}

// ---------------------------------------------------------------------------------------
// Phases and deadlines

void LoadWorker::on_tick(uint64_t) {
  const uint64_t now = now_ns();
  // Acquire: what main set before a phase change (drain deadline, connect_overdue) is seen with it.
  const RunPhase phase = RunPhase(run_.phase.load(std::memory_order_acquire));
  if (phase == RunPhase::Abort && !aborted_) abort_all();
  if (phase >= RunPhase::Draining && !draining_) begin_drain(now);
  if (!draining_) {
    if (!reconnect_waiting_.empty()) start_due_reconnects(now);
    start_connects(now);
    if (!running_ && phase == RunPhase::Running) {
      running_ = true;
      if (stages_) start_stages(now);
      if (scheduler_) {
        scheduler_->start(run_.steady_start_ns.load(std::memory_order_relaxed));
        rate_started_ = true;
      } else {
        for (Connection& c : connections_) {  // the closed loop starts: fill every pipeline
          top_up(c, now);
          flush(c.local, c);
        }
      }
    }
    if (stages_ && running_) apply_stage_connections(now);
    if (shootout_) shootout_tick(now);
    if (pubsub_) pubsub_tick(now);
    pump_rate(now);
  } else if (now >= run_.drain_deadline_ns.load(std::memory_order_relaxed)) {
    // The echoes had their time: close every connection still waiting for some.
    for (Connection& c : connections_)
      if (c.state == ConnState::Open) begin_close(c.local, c, now);
  }
  if (plan_.latency_intervals) plan_.latency_intervals->roll(now);  // closes a second without echoes
  if (now >= next_scan_ns_) {
    next_scan_ns_ = now + kScanIntervalNs;
    scan_deadlines(now);
  }
  update_flags();
}

void LoadWorker::begin_drain(uint64_t now) {
  const bool overdue = run_.connect_overdue.load(std::memory_order_relaxed);
  count_unpumped(now);
  draining_ = true;
  ready_.clear();
  for (Connection& c : connections_) {
    switch (c.state) {
      case ConnState::Connecting:
      case ConnState::TlsHandshaking:
      case ConnState::Handshaking:
        if (overdue) {
          fail(c.local, c, ErrorKind::HandshakeTimeout,
               "connection " + std::to_string(c.global_id) + ": no 101 response within the run's " +
                   seconds_text(options_.duration_s) + " s (--duration)");
        } else {
          finish(c.local, c, true);  // cut short by the end of the run: neither opened nor failed
        }
        break;
      case ConnState::Open:
        // --rate: messages due but still waiting for room in the pipeline are never sent.
        if (scheduler_ && c.due_seq > c.next_seq) totals_.dropped += c.due_seq - c.next_seq;
        if (staged_rate_) totals_.dropped += stage_due_[c.local].size();
        if (outstanding(c) == 0) begin_close(c.local, c, now);
        break;
      default:
        break;
    }
  }
}

void LoadWorker::scan_deadlines(uint64_t now) {
  for (Connection& c : connections_) {
    if (now < c.deadline_ns) continue;
    const std::string who = "connection " + std::to_string(c.global_id);
    switch (c.state) {
      case ConnState::Connecting:
      case ConnState::TlsHandshaking:
      case ConnState::Handshaking:
        fail(c.local, c, ErrorKind::HandshakeTimeout,
             who + ": no 101 response within " + seconds_text(options_.handshake_timeout_s) + " s of connecting" +
                 (c.state == ConnState::TlsHandshaking ? " (the TLS handshake did not complete)" : ""));
        break;
      case ConnState::CloseSent:
        count_error(ErrorKind::CloseTimeout, who + ": no close frame within 3 s of ours");
        finish(c.local, c, true);
        break;
      case ConnState::Closed:
      case ConnState::PeerClosed:
        finish(c.local, c, false);  // both close frames passed; the server just kept TCP open
        break;
      case ConnState::Failing:
        finish(c.local, c, true);  // the server ignored our close: nothing more to hear from it
        break;
      default:
        c.deadline_ns = ~uint64_t{0};  // nothing is timed in the other states
        break;
    }
  }
}

void LoadWorker::abort_all() {
  aborted_ = true;
  draining_ = true;
  ready_.clear();
  for (Connection& c : connections_)
    if (c.state != ConnState::Idle && c.state != ConnState::Dying) finish(c.local, c, true);
}

void LoadWorker::update_flags() {
  // --messages: this worker is done when its share is sent and echoed, or when it has no
  // connection left to send the rest on.
  const bool stranded = unresolved_first_attempts_ == 0 && live_.open.get() == 0;
  if (plan_.message_budget && (sent_ >= plan_.message_budget || stranded) && outstanding_total_ == 0)
    live_.exhausted.store(true, std::memory_order_relaxed);
  if (draining_ && live_connections_ == 0 && !stopped_) {
    stopped_ = true;
    reactor_.stop();
  }
}

}  // namespace wsring::load

// ---------------------------------------------------------------------------------------
// --match none and --reconnect

namespace wsring::load {

uint64_t LoadWorker::wake_at_us() const {
  if (staged_rate_ && rate_started_ && !draining_)
    return stage_next_ns_ == ~uint64_t{0} ? 0 : (run_.epoch_ns + stage_next_ns_) / 1000;
  if (!rate_started_ || draining_ || !scheduler_ || !scheduler_->due(~uint64_t{0})) return 0;
  // Rounded down: a wake-up a fraction of a microsecond early finds nothing due and waits again
  // for at most that fraction; one rounded up would make every send late.
  return (run_.epoch_ns + scheduler_->next_ns()) / 1000;
}

void LoadWorker::count_unpumped(uint64_t now) {
  // Messages due within the window that this thread had not taken up when the window ended (it
  // was not scheduled in time, or the end came between two wake-ups): dropped, never written.
  if (!rate_started_ || options_.messages) return;
  const uint64_t window_end = std::min(now, run_.steady_start_ns.load(std::memory_order_relaxed) +
                                                uint64_t(options_.duration_s * 1e9));
  if (staged_rate_) {
    for (; stage_next_ns_ <= window_end; stage_next_ns_ = stage_message_ns(stage_next_message_ += plan_.workers))
      ++totals_.dropped;
  } else if (scheduler_) {
    for (; scheduler_->due(window_end); scheduler_->advance()) ++totals_.dropped;
  }
}

void LoadWorker::complete_unanswered(Connection& c) {
  const uint64_t done = c.wire_seq - c.acked_seq;
  c.acked_seq = c.wire_seq;
  outstanding_total_ -= done;
  live_.unanswered.add(done);
  if (c.state != ConnState::Open) return;
  const uint64_t now = now_ns();
  if (draining_ && outstanding(c) == 0) begin_close(c.local, c, now);
  top_up(c, now);
}

void LoadWorker::schedule_reconnect(Connection& c, uint64_t now) {
  uint32_t& failures = reconnect_failures_[c.local];
  reconnect_at_ns_[c.local] = now + reconnect_delay_ns(failures, next_random(rng_state_));
  if (failures < 64) ++failures;  // reset by the next upgrade
  reconnect_waiting_.push_back(c.local);
}

void LoadWorker::start_due_reconnects(uint64_t now) {
  size_t kept = 0;
  for (const uint32_t local : reconnect_waiting_) {
    if (now >= reconnect_at_ns_[local] && connections_[local].state == ConnState::Idle) ready_.insert(ready_.begin(), local);
    else reconnect_waiting_[kept++] = local;
  }
  reconnect_waiting_.resize(kept);
}

}  // namespace wsring::load
