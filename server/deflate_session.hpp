// permessage-deflate in the engine: what a connection agreed (one byte of its record), the
// per-thread streams and buffers, and the side table of the few connections that hold deflate
// state (a dedicated connection's streams, or a compressed message still arriving).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/deflate_offer.hpp"
#include "core/frame.hpp"
#include "net/reactor.hpp"
#include "server/deflate_config.hpp"
#include "server/deflate_streams.hpp"

namespace wsring::server {

// The agreement packed into Connection::deflate: 0 = not agreed. Bits 0-2: the server's window
// bits - 8 (never 0 once agreed); bits 3-5: the client's window bits - 8; bit 6: dedicated
// streams; bit 7: the server resets its deflater per message (server_no_context_takeover);
// bit 8: echo passes compressed messages through (core::echo_can_pass_through, the flag on).
struct DeflateBits {
  uint16_t bits = 0;

  static DeflateBits pack(const core::DeflateAgreement& a, bool dedicated, bool passthrough) {
    const auto server = uint16_t(a.server_window_bits - 8), client = uint16_t(a.client_window_bits - 8);
    return DeflateBits{uint16_t(server | client << 3 | (dedicated ? 0x40 : 0) |
                                (a.server_no_context_takeover ? 0x80 : 0) | (passthrough ? 0x100 : 0))};
  }
  bool agreed() const { return bits != 0; }
  int server_window_bits() const { return (bits & 7) + 8; }
  // zlib inflates with 9 at least; a client's 8-bit stream reads fine with it.
  int client_window_bits() const { return std::max((bits >> 3 & 7) + 8, 9); }
  bool dedicated() const { return bits & 0x40; }
  bool server_resets() const { return bits & 0x80; }
  // A compressed message's echo is its own compressed bytes; what must be deflated again (see
  // Engine::inflate_message) is deflated from an empty window, never with a dedicated deflater.
  bool passthrough() const { return bits & 0x100; }
};

// What the side table keeps for one connection.
struct DeflateConnection {
  std::unique_ptr<InflateStream> inflater;  // dedicated: open while the connection is active
  std::unique_ptr<DeflateStream> deflater;
  std::vector<uint8_t> inflate_window;      // dedicated, idle: the windows the streams resume from
  std::vector<uint8_t> deflate_window;
  bool folded = false;                      // the streams were closed and their windows kept
  std::vector<uint8_t> pending;             // a compressed message arriving in several pieces
  size_t pending_charged = 0;               // its bytes charged to --max-memory
  core::Opcode pending_opcode = core::Opcode::Text;
  uint64_t last_use_ms = 0;
};

// A reply being deflated: its opcode, whether its first frame (RSV1) is still to go, the
// bytes waiting in the per-thread buffer, and its bytes so far (counted when it is complete).
struct PackState {
  core::Opcode opcode = core::Opcode::Text;
  bool first_frame = true;
  size_t used = 0;
  uint64_t plain_bytes = 0;
  uint64_t packed_bytes = 0;
};

// One reactor thread's deflate state.
struct DeflateThread {
  static constexpr size_t kBufferSize = 64 * 1024;
  static constexpr int kLevel = Z_DEFAULT_COMPRESSION;

  explicit DeflateThread(MemoryBudget& budget) : budget(budget) {}

  MemoryBudget& budget;
  // Shared mode: one inflater (the largest window reads every smaller one) and one deflater per
  // window size a client may ask for and memLevel (shared_mem_level), each reset per message.
  InflateStream shared_inflater;
  std::unique_ptr<DeflateStream> shared_deflaters[core::kMaxWindowBits - core::kMinWindowBits + 1][8];
  std::unique_ptr<uint8_t[]> plain = std::make_unique<uint8_t[]>(kBufferSize);   // inflated pieces
  std::unique_ptr<uint8_t[]> packed = std::make_unique<uint8_t[]>(kBufferSize);  // deflated pieces
  std::unordered_map<net::Token, DeflateConnection> connections;
  uint64_t next_fold_ms = 0;
};

// A shared deflater's memLevel for a message of `size` bytes (SIZE_MAX: not known yet). Resetting
// a deflater clears its whole hash table (2^(memLevel+7) entries of 2 bytes: 64 KiB at zlib's
// default memLevel 8), which cost more than compressing a 512-byte message. A message yields at
// most one symbol per byte, and a memLevel whose symbol buffer (2^(memLevel+6) - 1 symbols) holds
// them all compresses it in one block as memLevel 8 does, with a table of 4 to 8 bytes per
// message byte.
inline int shared_mem_level(size_t size) {
  int mem_level = 1;
  while (mem_level < 8 && size >= size_t(1) << (mem_level + 6)) ++mem_level;
  return mem_level;
}

// A shared deflater's window for that memLevel, at most the agreed `window_bits`: a deflater reset
// per message never looks back past the message, so twice the largest message of its memLevel
// (zlib reaches back the window less 262 bytes) gives the same matches as a larger window, and
// the small deflaters stay small (about 2^(memLevel+10) bytes in all).
inline int shared_window_bits(int mem_level, int window_bits) { return std::min(window_bits, std::max(9, mem_level + 7)); }

// A dedicated deflater's memLevel: zlib's hash table shrinks with it; window_bits - 9 keeps the
// table no larger than the window (12 -> 3: about 26 KiB in all).
inline int dedicated_mem_level(int window_bits) { return std::clamp(window_bits - 9, 1, 8); }

}  // namespace wsring::server
