#include "server/deflate_streams.hpp"

#include <cstdlib>
#include <cstring>

namespace wsring::server {

namespace {
// Each allocation carries its size in front, so that a free credits exactly what was charged.
constexpr size_t kSizeHeader = 16;
}  // namespace

void ZlibMemory::install(z_stream& z) {
  z.zalloc = &ZlibMemory::allocate;
  z.zfree = &ZlibMemory::free;
  z.opaque = this;
}

void* ZlibMemory::allocate(void* self, unsigned items, unsigned size) {
  auto* memory = static_cast<ZlibMemory*>(self);
  const size_t bytes = size_t(items) * size + kSizeHeader;
  if (memory->budget_ && !memory->budget_->try_charge(bytes)) return Z_NULL;
  void* block = std::malloc(bytes);
  if (!block) {
    if (memory->budget_) memory->budget_->credit(bytes);
    return Z_NULL;
  }
  std::memcpy(block, &bytes, sizeof bytes);
  memory->charged_ += bytes;
  return static_cast<uint8_t*>(block) + kSizeHeader;
}

void ZlibMemory::free(void* self, void* address) {
  auto* memory = static_cast<ZlibMemory*>(self);
  uint8_t* block = static_cast<uint8_t*>(address) - kSizeHeader;
  size_t bytes;
  std::memcpy(&bytes, block, sizeof bytes);
  memory->charged_ -= bytes;
  if (memory->budget_) memory->budget_->credit(bytes);
  std::free(block);
}

// ---------------------------------------------------------------------------------------

bool InflateStream::open(int window_bits) {
  if (open_) return true;
  z_ = z_stream{};
  memory_.install(z_);
  open_ = inflateInit2(&z_, -window_bits) == Z_OK;  // negative: raw DEFLATE, no zlib header
  return open_;
}

void InflateStream::close() {
  if (!open_) return;
  inflateEnd(&z_);
  open_ = false;
}

void InflateStream::reset() {
  if (open_) inflateReset(&z_);
}

void InflateStream::begin(const uint8_t* in, size_t size) {
  z_.next_in = const_cast<Bytef*>(in);
  z_.avail_in = uInt(size);
  tail_pending_ = true;
  reading_tail_ = false;
  stream_ended_ = false;
}

StreamStatus InflateStream::read(uint8_t* out, size_t capacity, size_t* produced) {
  z_.next_out = out;
  z_.avail_out = uInt(capacity);
  *produced = 0;
  // Bounded: each round either ends, or takes the tail, or restarts after a final block.
  for (int round = 0; round < 64; ++round) {
    if (z_.avail_in == 0 && tail_pending_) {
      z_.next_in = const_cast<Bytef*>(kDeflateTail);
      z_.avail_in = sizeof kDeflateTail;
      tail_pending_ = false;
      reading_tail_ = true;
    }
    const int r = inflate(&z_, Z_SYNC_FLUSH);
    *produced = capacity - z_.avail_out;
    if (r == Z_STREAM_END) {
      // A block with BFINAL set ended the stream (§7.2.3.3 allows it). The tail only completes
      // a sync flush's empty block: after a final block it is not DEFLATE data, and a fresh
      // stream reading it would take the next message's first byte as its own (1007 on the
      // next message of a dedicated connection), so it is dropped. Data after the final block
      // starts a new stream; the window is kept (what a takeover client may still refer to).
      stream_ended_ = true;
      if (reading_tail_) z_.avail_in = 0;
      if (z_.avail_in == 0) tail_pending_ = false;
      if (inflateResetKeep(&z_) != Z_OK) return StreamStatus::Corrupt;
      continue;  // the next round ends (Output or Done) unless data follows
    }
    if (r == Z_MEM_ERROR) return StreamStatus::NoMemory;
    if (r != Z_OK && r != Z_BUF_ERROR) return StreamStatus::Corrupt;
    if (z_.avail_out == 0) return StreamStatus::Output;
    if (z_.avail_in == 0 && !tail_pending_) return StreamStatus::Done;
    if (r == Z_BUF_ERROR) return StreamStatus::Corrupt;  // no progress with room and input: stuck
  }
  return StreamStatus::Corrupt;
}

bool InflateStream::save_window(std::vector<uint8_t>& window) {
  if (!open_) return false;
  window.resize(size_t(1) << 15);
  uInt length = 0;
  if (inflateGetDictionary(&z_, window.data(), &length) != Z_OK) return false;
  window.resize(length);
  window.shrink_to_fit();
  return true;
}

bool InflateStream::restore_window(const std::vector<uint8_t>& window) {
  return window.empty() || inflateSetDictionary(&z_, window.data(), uInt(window.size())) == Z_OK;
}

// ---------------------------------------------------------------------------------------

bool DeflateStream::open(int level, int window_bits, int mem_level) {
  if (open_) return true;
  z_ = z_stream{};
  memory_.install(z_);
  open_ = deflateInit2(&z_, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) == Z_OK;
  return open_;
}

void DeflateStream::close() {
  if (!open_) return;
  deflateEnd(&z_);
  open_ = false;
}

void DeflateStream::reset() {
  if (open_) deflateReset(&z_);
}

void DeflateStream::begin(const uint8_t* in, size_t size, bool message_end) {
  z_.next_in = const_cast<Bytef*>(in);
  z_.avail_in = uInt(size);
  flush_ = message_end;
}

StreamStatus DeflateStream::write(uint8_t* out, size_t capacity, size_t* produced) {
  z_.next_out = out;
  z_.avail_out = uInt(capacity);
  const int r = deflate(&z_, flush_ ? Z_SYNC_FLUSH : Z_NO_FLUSH);
  *produced = capacity - z_.avail_out;
  if (r == Z_MEM_ERROR) return StreamStatus::NoMemory;
  if (r != Z_OK && r != Z_BUF_ERROR) return StreamStatus::Corrupt;
  // Full output: there may be more. Otherwise all input went in (and was flushed if asked).
  return z_.avail_out == 0 ? StreamStatus::Output : StreamStatus::Done;
}

bool DeflateStream::save_window(std::vector<uint8_t>& window) {
  if (!open_) return false;
  window.resize(size_t(1) << 15);
  uInt length = 0;
  if (deflateGetDictionary(&z_, window.data(), &length) != Z_OK) return false;
  window.resize(length);
  window.shrink_to_fit();
  return true;
}

bool DeflateStream::restore_window(const std::vector<uint8_t>& window) {
  return window.empty() || deflateSetDictionary(&z_, window.data(), uInt(window.size())) == Z_OK;
}

}  // namespace wsring::server
