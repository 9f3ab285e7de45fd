// State both backends keep: the per-socket table (indexed by Token) and the slab of
// receive buffers. Internal to net/.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "net/reactor.hpp"

namespace wsring::net {

// One entry per token: 12 bytes, so a table for 100k sockets costs 1.2 MB, and only when
// that many tokens are in use (it grows to the highest token seen).
struct SocketSlot {
  int32_t fd = -1;
  uint32_t flags = 0;
  uint32_t extra = 0;  // backend-specific
};

enum SocketFlag : uint32_t {
  kOpen = 1 << 0,           // owned by the reactor
  kRecvArmed = 1 << 1,      // a (multishot) recv is outstanding / EPOLLIN registered
  kRecvPaused = 1 << 2,     // the handler asked us not to read
  kRecvEnded = 1 << 3,      // end of stream or error delivered: never read again
  kSendInFlight = 1 << 4,
  kConnecting = 1 << 5,
  kClosing = 1 << 6,        // close() called: deliver nothing but on_closed
  kCloseSubmitted = 1 << 7,
  kRecvStarved = 1 << 8,    // recv stopped for lack of buffers; re-arm when some return
  kWaitWritable = 1 << 10,  // the last send found the socket full: the next one waits for room
  kDetached = 1 << 9,       // epoll: removed from the interest list while nothing is wanted
};

class SocketTable {
 public:
  SocketSlot& operator[](Token t) {
    if (t >= slots_.size()) slots_.resize(t < 1024 ? 1024 : size_t(t) * 2);
    return slots_[t];
  }

  // Closes every socket still owned (a reactor destroyed with connections open).
  void close_all() {
    for (SocketSlot& s : slots_) {
      if (s.fd >= 0 && (s.flags & kOpen)) ::close(s.fd);
      s = SocketSlot{};
    }
  }

 private:
  std::vector<SocketSlot> slots_;
};

// Receive buffers carved from one anonymous mapping. Buffer i starts at base + i * stride;
// its first kRecvHeadroom bytes are headroom the kernel never writes.
class RecvBufferSlab {
 public:
  RecvBufferSlab(uint32_t buffer_size, uint32_t count) : stride_(buffer_size), count_(count) {
    size_t bytes = size_t(stride_) * count_;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<uint8_t*>(p);
  }
  ~RecvBufferSlab() { munmap(base_, size_t(stride_) * count_); }
  RecvBufferSlab(const RecvBufferSlab&) = delete;
  RecvBufferSlab& operator=(const RecvBufferSlab&) = delete;

  uint8_t* data(uint16_t id) const { return base_ + size_t(id) * stride_ + kRecvHeadroom; }
  uint32_t capacity() const { return stride_ - uint32_t(kRecvHeadroom); }
  uint32_t count() const { return count_; }

 private:
  uint8_t* base_ = nullptr;
  uint32_t stride_;
  uint32_t count_;
};

std::unique_ptr<Reactor> make_uring_reactor(const ReactorOptions& options, std::string* error);
std::unique_ptr<Reactor> make_epoll_reactor(const ReactorOptions& options, std::string* error);

}  // namespace wsring::net
