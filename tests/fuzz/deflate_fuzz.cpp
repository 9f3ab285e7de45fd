// Inflate-and-validate of a permessage-deflate message stream, as the server runs it: the input
// is a series of messages (a length byte pair, a flags byte, then that many compressed bytes),
// inflated with context takeover through one stream, each bounded by a size limit and, for
// text, checked as UTF-8. Whatever the bytes, the stream must end every message with a verdict
// (Done, Corrupt or over the limit), never loop, never write past its buffer; and for every
// message the fuzzer's own valid deflate output must round-trip exactly.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/utf8.hpp"
#include "server/deflate_streams.hpp"

namespace {

using wsring::server::DeflateStream;
using wsring::server::InflateStream;
using wsring::server::StreamStatus;

constexpr size_t kLimit = 1 << 20;
constexpr size_t kPiece = 4096;

// Inflates one message; returns false when it was refused (corrupt, too big or bad UTF-8).
bool inflate_one(InflateStream& inflater, const uint8_t* data, size_t size, bool text, std::vector<uint8_t>* out) {
  static uint8_t piece[kPiece];
  inflater.begin(data, size);
  wsring::core::Utf8Validator utf8;
  size_t total = 0;
  for (int round = 0; round < int(kLimit / kPiece) + 2; ++round) {
    size_t n = 0;
    const StreamStatus status = inflater.read(piece, kPiece, &n);
    if (n > kPiece) std::abort();
    if (status == StreamStatus::Corrupt || status == StreamStatus::NoMemory) return false;
    total += n;
    if (total > kLimit) return false;
    if (text && !utf8.feed(piece, n)) return false;
    if (out) out->insert(out->end(), piece, piece + n);
    if (status == StreamStatus::Done) return !text || utf8.at_boundary();
  }
  std::abort();  // more rounds than the limit allows: the stream did not make progress
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  InflateStream inflater;
  if (!inflater.open(15)) return 0;
  size_t pos = 0;
  while (pos + 3 <= size) {
    const size_t length = std::min<size_t>(size - pos - 3, size_t(data[pos]) << 8 | data[pos + 1]);
    const uint8_t flags = data[pos + 2];
    const uint8_t* message = data + pos + 3;
    pos += 3 + length;
    if (flags & 1) {
      // Round trip: the message's bytes as plaintext, deflated with the server's stream.
      DeflateStream deflater;
      if (!deflater.open(Z_DEFAULT_COMPRESSION, 9 + flags % 7, 1 + (flags >> 4) % 8)) return 0;
      std::vector<uint8_t> packed(length + 64 + length / 8);
      size_t used = 0, n = 0;
      deflater.begin(message, length, true);
      while (deflater.write(packed.data() + used, packed.size() - used, &n) == StreamStatus::Output) {
        used += n;
        packed.resize(packed.size() * 2);
      }
      used += n;
      if (used < 4 || std::memcmp(packed.data() + used - 4, wsring::server::kDeflateTail, 4) != 0) std::abort();
      InflateStream fresh;
      if (!fresh.open(15)) return 0;
      std::vector<uint8_t> plain;
      if (!inflate_one(fresh, packed.data(), used - 4, false, &plain)) std::abort();
      if (plain.size() != length || (length && std::memcmp(plain.data(), message, length) != 0)) std::abort();
    } else if (!inflate_one(inflater, message, length, flags & 2, nullptr)) {
      inflater.reset();  // the server fails the connection; here, go on with a fresh stream
    }
  }
  return 0;
}
