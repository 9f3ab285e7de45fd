// Frames after the upgrade: core's MessageReader unmasks in place and reports data chunks,
// control frames and protocol errors; data goes to the application, control frames are
// answered here. What the application echoes in place, and in-place pongs, are framed by
// InPlaceFramer into one region per input buffer.
#include <cstring>

#include "core/close.hpp"
#include "core/frame.hpp"
#include "server/engine.hpp"

namespace wsring::server {

using core::Opcode;
using core::ReadEventType;

// Queues the region framed in place so far; the next in-place reply opens a new one. `owner`:
// the input buffer, when this is the last region framed in it.
inline void Engine::cut_region(Connection& c, const Segment* owner) {
  if (!framer_.has_region()) {
    if (owner) release(*owner);
    return;
  }
  Segment s = Segment::unowned(framer_.region(), framer_.region_size());
  if (owner) {
    s.owner = owner->owner;
    s.ring_id = owner->ring_id;
    s.buffer = owner->buffer;
  }
  framer_.cut();
  // Nothing framed after our close frame may leave (the close was queued behind a cut).
  if (c.state != ConnState::Open) {
    release(s);
    return;
  }
  if (queue(c, s)) input_used_ = true;
}

// Output for another connection must not take the current connection's in-place region along.
void Engine::cut_current_region() {
  if (consuming_ && framer_.has_region()) cut_region(*consuming_);
}

void Engine::consume_frames_from(Connection& c, uint8_t* data, size_t size, const Segment& owner) {
  input_used_ = false;
  consuming_ = &c;
  consume_frames(c, data, size);
  consuming_ = nullptr;
  // The buffer goes back when the last output that points into it has been sent: the last
  // region framed in it carries it as owner (the common case, one segment per buffer), or else
  // an owner marker queued behind the output that points into it.
  if (framer_.has_region()) {
    cut_region(c, &owner);
  } else if (input_used_ && c.out) {
    queue(c, owner);
  } else {
    release(owner);
  }
  input_used_ = false;
  if (c.out && (c.out->queued_bytes() > config_.max_backpressure || c.out->stalled())) [[unlikely]]
    check_backpressure(c);
  if (c.state != ConnState::Open) maybe_finish(c);
}

void Engine::consume_frames(Connection& c, uint8_t* data, size_t size) {
  Session session(*this, c);
  size_t pos = 0;
  while (pos < size && c.state == ConnState::Open) {
    const core::ReadEvent ev = c.reader.next(data + pos, size - pos);
    pos += ev.consumed;
    switch (ev.type) {
      case ReadEventType::NeedMore:
        pos = size;
        break;
      case ReadEventType::Data:
        if (ev.compressed) [[unlikely]] {
          cut_region(c);  // what was framed in place before this message leaves first
          on_compressed(c, ev);
        } else if (echo_in_place_) {
          reply_in_place(ev);
        } else {
          app_.on_data(session, ev);
        }
        if (ev.message_end) {
          const bool in_place = echo_in_place_ && !ev.compressed;  // a compressed echo is counted where it is sent
          ++stats_.messages_echoed;
          stats_.messages_sent += in_place;
          if (c.sampled) [[unlikely]] {
            ++sampled(c).messages_in;
            sampled(c).messages_out += in_place;
          }
        }
        break;
      case ReadEventType::Control:
        on_control(c, ev);
        break;
      case ReadEventType::Error:
        cut_region(c);
        ++stats_.protocol_errors;
        c.ended_by(EndReason::ProtocolError);
        if (log_.enabled(LogLevel::Debug))
          log_.debug("%s: protocol error %u (%s)", who(c.token).c_str(), ev.error_code, ev.error_reason);
        queue_close(c, ev.error_code, ev.error_reason ? ev.error_reason : "");
        break;
    }
  }
  if (c.state != ConnState::Open) return;
  // A control frame left incomplete holds 125 bytes: --frame-timeout bounds how long.
  if (c.reader.control_partial()) {
    if (c.deadline_ms == 0) {
      c.deadline_ms = reactor_.now_ms() + seconds_to_ms(config_.frame_timeout_s);
      schedule_timer(c, reactor_.now_ms());
    }
  } else {
    c.deadline_ms = 0;
  }
}

void Engine::on_control(Connection& c, const core::ReadEvent& ev) {
  switch (ev.control_opcode) {
    case Opcode::Pong:
      if (c.ping_outstanding) {  // any pong proves the peer is alive: ping again when due
        c.ping_outstanding = false;
        schedule_timer(c, c.last_activity_ms);
      }
      return;
    case Opcode::Ping:
      if (ev.control_in_input) {  // in place, like a data frame
        framer_.emit(Opcode::Pong, true, ev.payload, ev.payload_size);
      } else {
        cut_region(c);
        queue_control(c, Opcode::Pong, ev.payload, ev.payload_size);  // failing, it closes
      }
      return;
    default: {
      // Close: echo the peer's code (an empty close gets an empty close), then hang up.
      cut_region(c);
      ++stats_.close_codes_received[close_code_bucket(ev.close.code)];
      if (c.sampled) sampled(c).close_received = ev.close.code;
      c.ended_by(EndReason::PeerClose);
      const SmallBuffer out = small_buffer();
      const size_t n = core::write_close_frame(out.data, ev.close.code, {});
      ++stats_.close_codes_sent[close_code_bucket(ev.close.code)];
      if (c.sampled) sampled(c).close_sent = ev.close.code;
      if (!queue_small(c, out, n)) return;
      enter(c, ConnEvent::PeerClosed);
      c.deadline_ms = reactor_.now_ms() + seconds_to_ms(config_.close_timeout_s);
      schedule_timer(c, reactor_.now_ms());
      return;
    }
  }
}

// After our close: input is read only to find the peer's close frame (or, after a protocol
// error, not at all: the reader is finished and the rest of the stream cannot be parsed).
void Engine::discard_input(Connection& c, uint8_t* data, size_t size) {
  size_t pos = 0;
  while (pos < size && !c.reader.finished()) {
    const core::ReadEvent ev = c.reader.next(data + pos, size - pos);
    pos += ev.consumed;
    if (ev.type == ReadEventType::NeedMore) break;
    if (ev.type == ReadEventType::Control && ev.control_opcode == Opcode::Close) {
      ++stats_.close_codes_received[close_code_bucket(ev.close.code)];
      if (c.sampled) sampled(c).close_received = ev.close.code;
      enter(c, ConnEvent::PeerClosed);
      return;
    }
  }
}

bool Engine::queue_control(Connection& c, Opcode opcode, const uint8_t* payload, size_t size) {
  const SmallBuffer out = small_buffer();
  size_t n = core::write_frame_header(out.data, opcode, true, size);
  std::memcpy(out.data + n, payload, size);
  return queue_small(c, out, n + size);
}

void Engine::queue_close(Connection& c, uint16_t code, std::string_view reason) {
  if (c.state != ConnState::Open) return;
  cut_region(c);
  const SmallBuffer out = small_buffer();
  if (!queue_small(c, out, core::write_close_frame(out.data, code, reason))) return;
  ++stats_.close_codes_sent[close_code_bucket(code)];
  if (c.sampled) sampled(c).close_sent = code;
  c.ended_by(EndReason::ServerClose);  // unless a timeout, an error or the shutdown said why first
  enter(c, ConnEvent::CloseQueued);
  c.deadline_ms = reactor_.now_ms() + seconds_to_ms(config_.close_timeout_s);
  schedule_timer(c, reactor_.now_ms());
  maybe_finish(c);
}

bool Engine::send_message(Connection& c, Opcode opcode, const uint8_t* data, size_t size) {
  if (c.state != ConnState::Open) return false;
  cut_region(c);
  ++stats_.messages_sent;
  if (c.sampled) ++sampled(c).messages_out;
  if (c.deflate && size >= config_.deflate.threshold) [[unlikely]] return send_deflated(c, opcode, data, size);
  return queue_frame(c, opcode, true, false, data, size);
}

// One frame, header and payload copied: into a write-pool buffer when it fits, else into chunks.
bool Engine::queue_frame(Connection& c, Opcode opcode, bool fin, bool rsv1, const uint8_t* data, size_t size) {
  uint8_t header[core::kMaxServerHeaderSize];
  const size_t n = core::write_frame_header(header, opcode, fin, size, nullptr, rsv1 ? 4 : 0);
  if (n + size <= kWriteBufferSize) {
    const SmallBuffer out = small_buffer();
    std::memcpy(out.data, header, n);
    std::memcpy(out.data + n, data, size);
    return queue_small(c, out, n + size);
  }
  return queue_copy(c, header, n) && queue_copy(c, data, size);
}

// ---------------------------------------------------------------------------------------
// What an application may do during a callback.

bool Session::send(Opcode opcode, const void* data, size_t size) {
  return engine_.send_message(connection_, opcode, static_cast<const uint8_t*>(data), size);
}

net::Token Session::token() const { return connection_.token; }

void Session::close(uint16_t code, std::string_view reason) { engine_.queue_close(connection_, code, reason); }

}  // namespace wsring::server
