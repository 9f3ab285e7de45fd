// The data both backends keep: the per-socket table (indexed by Token), what each socket
// flag means, and the slab of receive buffers. Internal to net/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/reactor.hpp"

namespace wsring::net {

constexpr uint32_t kNoMsghdr = 0xffffffffu;

// One entry per token: 12 bytes, so a table for 100k sockets costs 1.2 MB, and only when
// that many tokens are in use (it grows to the highest token seen).
struct SocketSlot {
  int32_t fd = -1;
  uint16_t flags = 0;       // SocketFlag, and the backend's own flags from kFirstBackendFlag up
  uint16_t turn_kib = 0;    // io_uring: KiB handed to the handler in this loop turn (fairness; 4 bits of turn, 12 of KiB)
  uint32_t send_msghdr = kNoMsghdr;  // io_uring: msghdr slot of the sendmsg in flight
};
static_assert(sizeof(SocketSlot) == 12, "one per socket: keep it small");

// Each flag means the same in both backends.
enum SocketFlag : uint16_t {
  kOpen = 1 << 0,           // the reactor owns the fd
  kConnecting = 1 << 1,     // connect() outstanding: on_connect not delivered yet
  kRecvArmed = 1 << 2,      // the backend watches for data: a multishot recv is outstanding
                            // (io_uring) / EPOLLIN is in the interest list (epoll)
  kRecvPaused = 1 << 3,     // the handler asked us not to read
  kRecvStarved = 1 << 4,    // reading stopped for lack of buffers; on the starved list
  kRecvEnded = 1 << 5,      // never read again: end of stream or error delivered, or the connect failed
  kSendInFlight = 1 << 6,   // send() accepted, on_send not delivered yet
  kWaitWritable = 1 << 7,   // the last send found the socket full: the next one waits for room
  kClosing = 1 << 8,        // close() called: nothing but on_closed is delivered
  kCloseSubmitted = 1 << 9, // the fd is being closed; on_closed follows
  kFirstBackendFlag = 1 << 10,  // bits from here up are the backend's own (see its file)
};

class SocketTable {
 public:
  SocketSlot& operator[](Token t) {
    if (t >= slots_.size()) slots_.resize(t < 1024 ? 1024 : size_t(t) * 2);
    return slots_[t];
  }
  const SocketSlot* find(Token t) const { return t < slots_.size() ? &slots_[t] : nullptr; }

  // Closes every socket still owned (a reactor destroyed with connections open).
  void close_all();

 private:
  std::vector<SocketSlot> slots_;
};

// Receive buffers carved from one anonymous mapping. Buffer i starts at base + i * stride;
// its first kRecvHeadroom bytes are headroom the kernel never writes.
class RecvBufferSlab {
 public:
  RecvBufferSlab() = default;
  ~RecvBufferSlab();
  RecvBufferSlab(const RecvBufferSlab&) = delete;
  RecvBufferSlab& operator=(const RecvBufferSlab&) = delete;

  // Maps count buffers of buffer_size bytes (headroom included). False, with `error` naming
  // the resource and its size, if the memory cannot be had.
  bool map(uint32_t buffer_size, uint32_t count, std::string* error);

  uint8_t* data(uint16_t id) const { return base_ + size_t(id) * stride_ + kRecvHeadroom; }
  uint32_t capacity() const { return stride_ - uint32_t(kRecvHeadroom); }
  uint32_t count() const { return count_; }

 private:
  uint8_t* base_ = nullptr;
  uint32_t stride_ = 0;
  uint32_t count_ = 0;
};

// Checks what both backends require of the options; false with one line in `error`.
bool validate_reactor_options(const ReactorOptions& options, std::string* error);

std::unique_ptr<Reactor> make_uring_reactor(const ReactorOptions& options, std::string* error);
std::unique_ptr<Reactor> make_epoll_reactor(const ReactorOptions& options, std::string* error);

}  // namespace wsring::net
