// permessage-deflate (RFC 7692) between the frames and the application. A compressed message is
// inflated into a per-thread buffer in pieces, each piece checked against --max-message-size
// and (text) UTF-8 before the application sees it, so a decompression bomb is stopped at the
// limit and never held whole. Replies are deflated into a per-thread buffer and queued as
// frames (copied into pooled or budgeted output). A message whose compressed bytes arrive in
// several inputs is gathered (charged to --max-memory) and inflated when complete, so the
// shared streams are only ever used within one call.
#include <cstring>
#include <new>

#include "core/utf8.hpp"
#include "server/engine.hpp"

namespace wsring::server {

using core::Opcode;

namespace reason {
// RFC 7692 names no close code for bad compressed data. 1007 (invalid frame payload data): the
// frames were well formed, their payload is not what the agreed extension says it is -- the
// same judgement as invalid UTF-8 in a text message (node's ws uses 1007 too). 1002 is kept for
// framing errors such as RSV1 where it may not be.
constexpr const char* kCorrupt = "invalid compressed data";
constexpr const char* kTooBig = "message too big after inflating";
constexpr const char* kInvalidUtf8 = "invalid UTF-8 in text message";
}  // namespace reason

// A dedicated deflater keeps context, so later messages find long matches in earlier ones; at
// zlib's default level the search along its hash chains (longest_match) then dominated the
// server's CPU (perf: a third of it) with the small hash table that keeps a dedicated connection
// small. Level 1 (no lazy matching, short chains) still finds those long matches.
constexpr int kDedicatedLevel = 1;

size_t Engine::agree_deflate(Connection& c, std::span<char> value) {
  if (config_.deflate.mode == DeflateMode::Off) return 0;
  const bool dedicated = config_.deflate.mode == DeflateMode::Dedicated;
  const core::DeflatePolicy policy{!dedicated, dedicated ? config_.deflate.window_bits : core::kMaxWindowBits};
  const core::DeflateNegotiation negotiation = core::negotiate_deflate(request_.header_list(), policy);
  if (!negotiation.accepted) return 0;
  const size_t size = core::write_deflate_response(value, negotiation.agreement);
  if (size == 0) return 0;
  if (!deflate_) deflate_ = std::make_unique<DeflateThread>(shared_.memory);
  const bool passthrough = echo_in_place_ && config_.deflate.passthrough && core::echo_can_pass_through(negotiation.agreement);
  c.deflate = DeflateBits::pack(negotiation.agreement, dedicated, passthrough).bits;
  c.reader.allow_compression(true);
  ++stats_.deflate_agreed[dedicated ? 1 : 0];
  return size;
}

// consume_frames has queued what was framed in place before this message.
void Engine::on_compressed(Connection& c, const core::ReadEvent& ev) {
  const bool message_start = ev.frame_start && ev.frame_opcode != Opcode::Continuation;
  if (message_start && ev.message_end) {  // the common case: the whole message in this input
    inflate_message(c, ev.message_opcode, ev.payload, ev.payload_size, true);
    return;
  }
  DeflateConnection& d = deflate_->connections[c.token];
  if (message_start) d.pending_opcode = ev.message_opcode;
  const size_t needed = d.pending.size() + ev.payload_size;
  if (needed > d.pending_charged) {
    const size_t grown = std::max(needed, 2 * d.pending_charged);
    if (!shared_.memory.try_charge(grown - d.pending_charged)) {
      fail_for_memory(c);
      return;
    }
    d.pending.reserve(grown);
    d.pending_charged = grown;
  }
  d.pending.insert(d.pending.end(), ev.payload, ev.payload + ev.payload_size);
  if (!ev.message_end) return;
  std::vector<uint8_t> message = std::move(d.pending);
  const size_t charged = std::exchange(d.pending_charged, 0);
  d.pending = {};
  const Opcode opcode = d.pending_opcode;
  if (!d.inflater && !d.deflater && !d.folded) deflate_->connections.erase(c.token);
  inflate_message(c, opcode, message.data(), message.size(), false);
  shared_.memory.credit(charged);
}

// The inflater for c's next message: the shared one, reset, or c's own (opened, or reopened
// from its saved window).
InflateStream* Engine::inflater_for(Connection& c) {
  const DeflateBits bits{c.deflate};
  if (!bits.dedicated()) {
    InflateStream& shared = deflate_->shared_inflater;
    if (!shared.is_open() && !shared.open(core::kMaxWindowBits)) return nullptr;
    shared.reset();
    return &shared;
  }
  DeflateConnection& d = deflate_->connections[c.token];
  d.last_use_ms = reactor_.now_ms();
  if (!d.inflater) {
    d.inflater = std::make_unique<InflateStream>(&shared_.memory);
    if (!d.inflater->open(bits.client_window_bits()) || !d.inflater->restore_window(d.inflate_window)) {
      d.inflater.reset();
      return nullptr;
    }
    d.inflate_window = {};
  }
  return d.inflater.get();
}

// message_size: the whole reply's size, or SIZE_MAX while it is not known.
DeflateStream* Engine::deflater_for(Connection& c, size_t message_size) {
  const DeflateBits bits{c.deflate};
  const int window_bits = bits.server_window_bits();
  // A pass-through connection's client inflates our replies and its own messages' bytes in one
  // history: a dedicated deflater's history would miss the messages passed through, so what is
  // deflated there starts from an empty window (valid whatever the client's history holds).
  if (!bits.dedicated() || bits.passthrough()) {
    const int mem_level = shared_mem_level(message_size);
    auto& shared = deflate_->shared_deflaters[window_bits - core::kMinWindowBits][mem_level - 1];
    if (!shared) {
      try {
        shared = std::make_unique<DeflateStream>();
      } catch (const std::bad_alloc&) {
        return nullptr;
      }
      if (!shared->open(DeflateThread::kLevel, shared_window_bits(mem_level, window_bits), mem_level)) {
        shared.reset();
        return nullptr;
      }
    }
    shared->reset();
    return shared.get();
  }
  DeflateConnection& d = deflate_->connections[c.token];
  d.last_use_ms = reactor_.now_ms();
  if (!d.deflater) {
    d.deflater = std::make_unique<DeflateStream>(&shared_.memory);
    if (!d.deflater->open(kDedicatedLevel, window_bits, dedicated_mem_level(window_bits)) ||
        !d.deflater->restore_window(d.deflate_window)) {
      d.deflater.reset();
      return nullptr;
    }
    d.deflate_window = {};
  } else if (bits.server_resets()) {
    d.deflater->reset();
  }
  return d.deflater.get();
}

// Inflates one whole compressed message piece by piece into the per-thread buffer and hands
// each piece on (echo: deflated back, or on a pass-through connection checked and sent back as
// it came; others: the application). Bounded: every round but the last fills the buffer, and
// the total may not pass --max-message-size. `in_place`: `in` is the message's only frame's
// payload in the receive buffer (its client header in front), else a gathered copy.
//
// Pass-through sends the client's bytes back only for a message that inflates into one buffer
// and did not end the client's DEFLATE stream (a BFINAL block, RFC 7692 §7.2.3.3: what the
// client's inflater does after one is its own affair, so it never gets one from us). Those
// messages, and larger ones (whose pieces are gone by the end), are deflated again from an
// empty window; the connection keeps passing the next ones through: the client's inflater
// history still holds the same plaintext, in order, as its deflater's.
void Engine::inflate_message(Connection& c, Opcode opcode, uint8_t* in, size_t size, bool in_place) {
  InflateStream* inflater = inflater_for(c);
  if (!inflater) {
    fail_for_memory(c);
    return;
  }
  inflater->begin(in, size);
  uint8_t* plain = deflate_->plain.get();
  core::Utf8Validator utf8;
  uint64_t total = 0;
  PackState reply{opcode};
  DeflateStream* reply_stream = nullptr;
  for (bool first = true; c.state == ConnState::Open; first = false) {
    size_t n = 0;
    const StreamStatus status = inflater->read(plain, DeflateThread::kBufferSize, &n);
    if (status == StreamStatus::NoMemory) return fail_for_memory(c);
    if (status == StreamStatus::Corrupt) return fail_compressed(c, core::close_code::invalid_payload, reason::kCorrupt);
    total += n;
    if (total > config_.max_message_size) {
      ++stats_.deflate_limit_closes;
      return fail_compressed(c, core::close_code::message_too_big, reason::kTooBig);
    }
    const bool last = status == StreamStatus::Done;
    if (last) count_inflated(size, total);
    if (opcode == Opcode::Text && (!utf8.feed(plain, n) || (last && !utf8.at_boundary())))
      return fail_compressed(c, core::close_code::invalid_payload, reason::kInvalidUtf8);
    if (!echo_in_place_) {
      deliver_inflated(c, opcode, plain, n, first, last);
    } else if (first && last) {
      if (!DeflateBits{c.deflate}.passthrough())
        send_message(c, opcode, plain, n);  // compressed unless below --deflate-threshold
      else if (!inflater->stream_ended())
        pass_through(c, opcode, in, size, n, in_place);
      else
        send_recompressed(c, opcode, plain, n);
    } else {
      if (!reply_stream && !(reply_stream = deflater_for(c, SIZE_MAX))) return fail_for_memory(c);
      if (!deflate_piece(c, *reply_stream, reply, plain, n, last)) return;
    }
    if (last) return;
  }
}

// The echo of a compressed message: its own compressed bytes as one frame with RSV1, framed in
// place when they lie in the receive buffer, else copied.
void Engine::pass_through(Connection& c, Opcode opcode, uint8_t* payload, size_t size, uint64_t plain_size,
                          bool in_place) {
  if (in_place) {
    framer_.emit(opcode, true, payload, size, 4);
  } else {
    cut_current_region();  // nothing framed in place may follow the copy out of order
    if (!queue_frame(c, opcode, true, true, payload, size)) return;
  }
  ++stats_.messages_sent;
  if (c.sampled) ++sampled(c).messages_out;
  ++stats_.deflate_replies_passed_through;
  ++stats_.deflate_messages_compressed;
  stats_.deflate_compressed_in_bytes += plain_size;
  stats_.deflate_compressed_out_bytes += size;
}

// On a pass-through connection, a reply that is deflated again is compressed whatever its
// size: in takeover mode the client's inflater history must get every compressed message's
// plaintext, as its deflater's history did.
bool Engine::send_recompressed(Connection& c, Opcode opcode, const uint8_t* data, size_t size) {
  cut_current_region();
  ++stats_.messages_sent;
  if (c.sampled) ++sampled(c).messages_out;
  return send_deflated(c, opcode, data, size);
}

void Engine::count_inflated(size_t compressed, uint64_t inflated) {
  ++stats_.deflate_messages_inflated;
  stats_.deflate_inflated_in_bytes += compressed;
  stats_.deflate_inflated_out_bytes += inflated;
}

void Engine::deliver_inflated(Connection& c, Opcode opcode, uint8_t* data, size_t size, bool first, bool last) {
  core::ReadEvent ev;
  ev.type = core::ReadEventType::Data;
  ev.message_opcode = opcode;
  ev.frame_opcode = first ? opcode : Opcode::Continuation;
  ev.frame_start = true;
  ev.frame_end = true;
  ev.frame_fin = last;
  ev.message_end = last;
  ev.payload = data;
  ev.payload_size = size;
  ev.frame_payload_length = size;
  Session session(*this, c);
  app_.on_data(session, ev);
}

void Engine::fail_compressed(Connection& c, uint16_t code, const char* why) {
  ++stats_.protocol_errors;
  log_.debug("connection %u: compressed message refused: %u (%s)", c.token, code, why);
  queue_close(c, code, why);
}

bool Engine::send_deflated(Connection& c, Opcode opcode, const uint8_t* data, size_t size) {
  DeflateStream* stream = deflater_for(c, size);
  if (!stream) {
    fail_for_memory(c);
    return false;
  }
  PackState state{opcode};
  return deflate_piece(c, *stream, state, data, size, true);
}

// Deflates the next piece of a reply into the per-thread buffer. A full buffer leaves as a
// non-final frame, except its last 4 bytes, which may begin the flush's 00 00 FF FF; at the
// message's end that tail is removed (§7.2.1) and the final frame queued.
bool Engine::deflate_piece(Connection& c, DeflateStream& stream, PackState& state, const uint8_t* data, size_t size,
                           bool last) {
  constexpr size_t kTail = sizeof kDeflateTail;
  constexpr size_t kCapacity = DeflateThread::kBufferSize;
  uint8_t* out = deflate_->packed.get();
  stream.begin(data, size, last);
  for (;;) {  // each round but the last sends kCapacity - 4 bytes: bounded by the output size
    size_t n = 0;
    const StreamStatus status = stream.write(out + state.used, kCapacity - state.used, &n);
    state.used += n;
    if (status == StreamStatus::Done) break;
    if (status != StreamStatus::Output) {
      fail_for_memory(c);
      return false;
    }
    if (!queue_packed(c, state, kCapacity - kTail, false)) return false;
    std::memmove(out, out + kCapacity - kTail, kTail);
    state.used = kTail;
  }
  state.plain_bytes += size;
  if (!last) return true;
  if (state.used >= kTail && std::memcmp(out + state.used - kTail, kDeflateTail, kTail) == 0) state.used -= kTail;
  const bool ok = queue_packed(c, state, state.used, true);
  state.used = 0;
  if (ok) {
    stats_.deflate_replies_recompressed += echo_in_place_;  // echo deflates only replies to compressed messages
    ++stats_.deflate_messages_compressed;
    stats_.deflate_compressed_in_bytes += state.plain_bytes;
    stats_.deflate_compressed_out_bytes += state.packed_bytes;
  }
  return ok;
}

bool Engine::queue_packed(Connection& c, PackState& state, size_t size, bool fin) {
  const Opcode opcode = state.first_frame ? state.opcode : Opcode::Continuation;
  const bool rsv1 = std::exchange(state.first_frame, false);
  state.packed_bytes += size;
  return queue_frame(c, opcode, fin, rsv1, deflate_->packed.get(), size);
}

void Engine::end_deflate(Connection& c) {
  if (!deflate_ || c.deflate == 0) return;
  const auto it = deflate_->connections.find(c.token);
  if (it == deflate_->connections.end()) return;
  shared_.memory.credit(it->second.pending_charged);
  deflate_->connections.erase(it);
}

// Dedicated streams idle for --deflate-idle are closed, keeping only their windows (what the
// peer's next message may refer to, and what ours may), so an idle connection holds 2 windows
// instead of 2 streams. Checked once a second.
void Engine::fold_idle_deflate(uint64_t now_ms) {
  if (!deflate_ || config_.deflate.mode != DeflateMode::Dedicated || now_ms < deflate_->next_fold_ms) return;
  deflate_->next_fold_ms = now_ms + 1000;
  const uint64_t idle_ms = seconds_to_ms(config_.deflate.idle_s);
  for (auto& [token, d] : deflate_->connections) {
    if ((!d.inflater && !d.deflater) || !d.pending.empty() || now_ms < d.last_use_ms + idle_ms) continue;
    try {  // no memory for a saved window: the stream stays whole, tried again next time
      if (d.inflater && d.inflater->save_window(d.inflate_window)) d.inflater.reset();
      // A deflater that resets per message (server_no_context_takeover) has no window to keep.
      const bool keeps_context = !DeflateBits{connections_[token].deflate}.server_resets();
      if (d.deflater && (!keeps_context || d.deflater->save_window(d.deflate_window))) d.deflater.reset();
    } catch (const std::bad_alloc&) {
      continue;
    }
    d.folded = true;
  }
}

}  // namespace wsring::server
