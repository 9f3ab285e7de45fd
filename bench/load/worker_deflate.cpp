// wsring-load's permessage-deflate (--deflate): the offer's answer read, messages compressed
// before they are masked, compressed echoes gathered, inflated and verified like any other.
// We compress every message from an empty window (allowed whatever was agreed), with one
// deflater per window size, unless --deflate-takeover asks for a connection's own deflater
// that keeps its context (where client_no_context_takeover was not agreed), as browsers do;
// echoes are inflated with one shared inflater when the server agreed on
// server_no_context_takeover, else with a connection's own.
#include <cstring>

#include "bench/load/worker.hpp"
#include "core/deflate_offer.hpp"
#include "core/unmask.hpp"

namespace wsring::load {

using core::Opcode;

bool LoadWorker::agree_deflate(net::Token t, Connection& c, std::string_view extensions) {
  // A reconnected connection starts afresh: no stream of the last one may carry its context over.
  c.deflate = false;
  c.inflater.reset();
  c.deflater.reset();
  c.reader.allow_compression(false);
  if (extensions.empty()) return true;  // declined: this connection sends uncompressed
  core::DeflateOffer agreed;
  if (!core::parse_deflate_response(extensions, agreed)) {
    fail_protocol(t, c, ErrorKind::HandshakeFailed, core::close_code::protocol_error,
                  "connection " + std::to_string(c.global_id) + ": bad Sec-WebSocket-Extensions answer '" +
                      std::string(extensions) + "'");
    return false;
  }
  c.deflate = true;
  c.deflate_window_bits = std::max<uint8_t>(agreed.client_max_window_bits_value ? agreed.client_max_window_bits_value : 15,
                                            core::kMinWindowBits);
  c.reader.allow_compression(true);
  ++totals_.deflate_agreed;
  if (!agreed.server_no_context_takeover) {
    c.inflater = std::make_unique<server::InflateStream>();
    if (!c.inflater->open(core::kMaxWindowBits)) throw std::bad_alloc();
  } else if (!inflater_) {
    inflater_ = std::make_unique<server::InflateStream>();
    if (!inflater_->open(core::kMaxWindowBits)) throw std::bad_alloc();
  }
  if (options_.deflate_takeover && !agreed.client_no_context_takeover) {
    c.deflater = std::make_unique<server::DeflateStream>();
    if (!c.deflater->open(Z_DEFAULT_COMPRESSION, c.deflate_window_bits, 8)) throw std::bad_alloc();
  }
  if (deflate_plain_.size() < options_.size_max) {
    deflate_plain_.resize(options_.size_max);
    deflate_packed_.resize(options_.size_max + options_.size_max / 8 + 64);
  }
  return true;
}

// Compresses one message (sync flush, tail removed, §7.2.1) and writes it masked with RSV1.
bool LoadWorker::write_deflated(Connection& c, size_t size, const Stamp& stamp, core::Opcode opcode) {
  auto& deflater = c.deflater ? c.deflater : deflaters_[c.deflate_window_bits - core::kMinWindowBits];
  if (!deflater) {
    deflater = std::make_unique<server::DeflateStream>();
    if (!deflater->open(Z_DEFAULT_COMPRESSION, c.deflate_window_bits, 8)) throw std::bad_alloc();
  }
  if (!c.deflater) deflater->reset();  // a connection's own keeps its context
  write_payload(deflate_plain_.data(), size, stamp, pattern_);
  deflater->begin(deflate_plain_.data(), size, true);
  size_t packed = 0;
  if (deflater->write(deflate_packed_.data(), deflate_packed_.size(), &packed) != server::StreamStatus::Done ||
      packed < 4)
    return false;  // cannot happen: deflate's worst case is within size / 8 + 64
  packed -= 4;
  const size_t header = core::frame_header_size(packed, true);
  if (header + packed > room(c, 2 * kControlFrameMax)) return false;
  uint8_t* dst = c.buf[c.fill] + c.fill_len;
  uint8_t key[4];
  masks_.next(key);
  core::write_frame_header(dst, opcode, true, packed, key, 4);
  std::memcpy(dst + header, deflate_packed_.data(), packed);
  core::apply_mask(dst + header, packed, key, 0);
  c.fill_len += uint32_t(header + packed);
  totals_.deflate_plain_sent += size;
  totals_.deflate_wire_sent += packed;
  return true;
}

// A compressed echo: gathered until its last frame, then inflated in pieces and checked like an
// uncompressed one. False when the connection failed.
bool LoadWorker::on_compressed_echo(net::Token t, Connection& c, const core::ReadEvent& ev, uint64_t now) {
  if (ev.frame_start && ev.frame_opcode != Opcode::Continuation) {
    c.inflate_opcode = ev.message_opcode;
    c.inflate_pending.clear();
  }
  c.inflate_pending.insert(c.inflate_pending.end(), ev.payload, ev.payload + ev.payload_size);
  if (!ev.message_end) return true;
  if (!begin_echo(c, c.inflate_opcode)) return false;
  server::InflateStream& inflater = c.inflater ? *c.inflater : *inflater_;
  if (!c.inflater) inflater.reset();
  inflater.begin(c.inflate_pending.data(), c.inflate_pending.size());
  uint8_t* piece = deflate_plain_.data();
  const size_t capacity = deflate_plain_.size();
  uint64_t total = 0;
  for (;;) {  // bounded: every round but the last fills the buffer, and the size is checked
    size_t n = 0;
    const server::StreamStatus status = inflater.read(piece, capacity, &n);
    if (status == server::StreamStatus::Corrupt || status == server::StreamStatus::NoMemory) {
      fail_protocol(t, c, ErrorKind::ProtocolError, core::close_code::invalid_payload,
                    "connection " + std::to_string(c.global_id) + ": 1007 invalid compressed data in an echo");
      return false;
    }
    total += n;
    check_chunk(c, piece, n);
    if (status == server::StreamStatus::Done || total > options_.size_max) break;
  }
  totals_.deflate_plain_received += total;
  totals_.deflate_wire_received += c.inflate_pending.size();
  c.inflate_pending.clear();
  finish_echo(c, now);
  return true;
}

}  // namespace wsring::load
