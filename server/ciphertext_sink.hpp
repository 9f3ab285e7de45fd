// Where TLS code writes ciphertext (a TlsSession, the TLS 1.3 record layer). space() returns
// writable room at the end of the output (the tail of the current buffer, or a fresh buffer from
// the caller's pool); commit(n) says n bytes of it now hold ciphertext. An empty span means no
// buffer is left: the writer then fails with an out-of-buffers error (it never blocks, so a
// record is never half-written).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wsring::server {

class CiphertextSink {
 public:
  virtual std::span<uint8_t> space() = 0;
  virtual void commit(size_t size) = 0;

 protected:
  ~CiphertextSink() = default;
};

// A sink that appends to one growing buffer (tests, wsring-load, anything not on a pool).
class VectorSink final : public CiphertextSink {
 public:
  std::span<uint8_t> space() override {
    if (buffer_.size() - size_ < 4096) buffer_.resize(std::max(buffer_.size() * 2, size_ + 32768));
    return {buffer_.data() + size_, buffer_.size() - size_};
  }
  void commit(size_t size) override { size_ += size; }
  std::span<const uint8_t> bytes() const { return {buffer_.data(), size_}; }  // written so far
  void clear() { size_ = 0; }  // after sending bytes()

 private:
  std::vector<uint8_t> buffer_;
  size_t size_ = 0;
};

}  // namespace wsring::server
