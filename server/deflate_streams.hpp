// zlib's raw DEFLATE streams as permessage-deflate (RFC 7692 §7.2) uses them: one message's
// compressed bytes in, its plaintext out in pieces (the 00 00 FF FF tail the sender removed is
// added back here), and plaintext in, compressed pieces out. zlib is the dependency because a
// well-kept inflate/deflate beats hand-written code: decades of fuzzing, and fast.
//
// A stream's allocations can be charged to the memory budget (--max-memory): a connection's own
// streams are; the per-thread shared streams are fixed costs and are not. A stream is never
// moved (zlib's allocator gets its address), so hold it by pointer.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/memory_budget.hpp"

namespace wsring::server {

// The bookkeeping shared by both kinds of stream: zlib's allocator charging a budget.
class ZlibMemory {
 public:
  explicit ZlibMemory(MemoryBudget* budget) : budget_(budget) {}
  size_t charged() const { return charged_; }  // bytes zlib holds for this stream now
  void install(z_stream& z);

 private:
  static void* allocate(void* self, unsigned items, unsigned size);
  static void free(void* self, void* address);
  MemoryBudget* budget_;
  size_t charged_ = 0;
};

enum class StreamStatus : uint8_t {
  Output,    // the output buffer is full: call again for more
  Done,      // all input is used up (and, at a message's end, everything is flushed)
  Corrupt,   // the input is not valid DEFLATE data
  NoMemory,  // zlib's allocation was refused (by the budget or the allocator)
};

class InflateStream {
 public:
  explicit InflateStream(MemoryBudget* budget = nullptr) : memory_(budget) {}
  ~InflateStream() { close(); }
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;

  // window_bits 9..15 (a stream written with a smaller window reads fine with a larger one).
  bool open(int window_bits);
  void close();
  bool is_open() const { return open_; }
  // Forgets the previous messages (no context takeover).
  void reset();

  // Starts one message: its compressed payload (the tail is added after it).
  void begin(const uint8_t* in, size_t size);
  // Inflates into out[0, capacity): *produced bytes; Output while more may follow.
  StreamStatus read(uint8_t* out, size_t capacity, size_t* produced);
  // The current message held a block with BFINAL set: the sender ended its DEFLATE stream there.
  bool stream_ended() const { return stream_ended_; }

  // For a connection going idle: the last window of plaintext (what later messages may refer
  // to) into `window`, so the stream can be closed and reopened with restore_window.
  bool save_window(std::vector<uint8_t>& window);
  bool restore_window(const std::vector<uint8_t>& window);
  size_t memory() const { return memory_.charged(); }

 private:
  z_stream z_{};
  ZlibMemory memory_;
  bool open_ = false;
  bool tail_pending_ = false;
  bool reading_tail_ = false;
  bool stream_ended_ = false;
};

class DeflateStream {
 public:
  explicit DeflateStream(MemoryBudget* budget = nullptr) : memory_(budget) {}
  ~DeflateStream() { close(); }
  DeflateStream(const DeflateStream&) = delete;
  DeflateStream& operator=(const DeflateStream&) = delete;

  bool open(int level, int window_bits, int mem_level);
  void close();
  bool is_open() const { return open_; }
  void reset();

  // Compresses the next piece of a message; `message_end`: flush so the message ends on a byte
  // boundary (the output then ends with 00 00 FF FF, which the caller removes, §7.2.1).
  void begin(const uint8_t* in, size_t size, bool message_end);
  StreamStatus write(uint8_t* out, size_t capacity, size_t* produced);

  bool save_window(std::vector<uint8_t>& window);
  bool restore_window(const std::vector<uint8_t>& window);
  size_t memory() const { return memory_.charged(); }

 private:
  z_stream z_{};
  ZlibMemory memory_;
  bool open_ = false;
  bool flush_ = false;
};

// The 4 bytes a sync flush ends with, which permessage-deflate leaves off the wire.
inline constexpr uint8_t kDeflateTail[4] = {0x00, 0x00, 0xff, 0xff};

}  // namespace wsring::server
