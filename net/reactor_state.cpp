#include "net/reactor_state.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wsring::net {

namespace {

constexpr uint32_t kMaxRecvBufferCount = 32768;       // io_uring buffer ring entries (ids are 16 bits)
constexpr uint32_t kMaxRecvBufferSize = 1u << 30;     // a recv result must fit an int

std::string human_bytes(uint64_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = double(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.4g %s", value, kUnits[unit]);
  return text;
}

}  // namespace

void SocketTable::close_all() {
  for (SocketSlot& s : slots_) {
    if (s.fd >= 0 && (s.flags & kOpen)) ::close(s.fd);
    s = SocketSlot{};
  }
}

RecvBufferSlab::~RecvBufferSlab() {
  if (base_) munmap(base_, size_t(stride_) * count_);
}

bool RecvBufferSlab::map(uint32_t buffer_size, uint32_t count, std::string* error) {
  const size_t bytes = size_t(buffer_size) * count;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    *error = "cannot map the receive buffers (" + std::to_string(count) + " x " + human_bytes(buffer_size) + " = " +
             human_bytes(bytes) + "): " + strerror(errno);
    return false;
  }
  base_ = static_cast<uint8_t*>(p);
  stride_ = buffer_size;
  count_ = count;
  return true;
}

bool validate_reactor_options(const ReactorOptions& options, std::string* error) {
  const uint32_t count = options.recv_buffer_count;
  if (count == 0 || (count & (count - 1)) != 0 || count > kMaxRecvBufferCount) {
    *error = "receive buffer count " + std::to_string(count) + " is not a power of two from 1 to " +
             std::to_string(kMaxRecvBufferCount);
    return false;
  }
  if (options.recv_buffer_size <= kRecvHeadroom || options.recv_buffer_size > kMaxRecvBufferSize) {
    *error = "receive buffer size " + std::to_string(options.recv_buffer_size) + " is not from " +
             std::to_string(kRecvHeadroom + 1) + " bytes to " + human_bytes(kMaxRecvBufferSize) +
             " (headroom included)";
    return false;
  }
  return true;
}

}  // namespace wsring::net
