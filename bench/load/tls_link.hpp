// wsring-load's TLS layer for one connection (wss://). The worker puts it between the reactor and
// its byte handling (bench/load/worker_tls.cpp): received ciphertext is decrypted into a
// per-worker plaintext buffer, which then goes the way a receive buffer goes for ws://; the
// bytes a flush would have sent (the upgrade request, masked frames) are encrypted into
// `pending`, which becomes `flying` for exactly one send, as the plaintext buffer does for ws://.
// A ws:// connection has no TlsLink at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "bench/load/options.hpp"
#include "server/tls_context.hpp"
#include "server/tls_session.hpp"

namespace wsring::load {

// A ciphertext buffer that grows as records are written into it and gives its memory back on
// release(), so that a slot waiting to reconnect holds none.
class CipherBuffer final : public server::CiphertextSink {
 public:
  std::span<uint8_t> space() override;
  void commit(size_t size) override { size_ += size; }

  uint8_t* data() { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  void clear() { size_ = 0; }
  void release() {
    data_.reset();
    size_ = capacity_ = 0;
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

struct TlsLink {
  server::TlsSession session;     // empty between connections
  CipherBuffer pending;           // ciphertext not yet sent: handshake flights, frames, close_notify
  CipherBuffer flying;            // the ciphertext of the send in flight: untouched until on_send
  server::TlsResumption ticket;   // --tls-resume: the session the slot's next connection offers
  uint64_t connected_ns = 0;      // TCP connected: the TLS handshake time starts here

  // The connection is gone (on_closed): keep its session for the next one when resuming (a
  // newer ticket replaces an older one), free everything else.
  void reset(bool keep_ticket);
};

// The client context of a wss:// run. False with `error` set to one line naming the flag at
// fault (--ca: unreadable, or no PEM certificate in it).
bool make_load_tls_context(const LoadTlsOptions& options, server::TlsContext& out, std::string& error);

}  // namespace wsring::load
