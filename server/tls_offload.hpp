// Record offload (an implementation detail of TlsSession): a TLS 1.3 server session whose
// handshake OpenSSL has completed hands its application traffic secrets to TlsRecords and frees
// its SSL. The secrets are captured during the handshake from OpenSSL's key log callback, the
// only way OpenSSL 3 gives them out; they are kept per SSL (ex_data, so moving the TlsSession
// does not matter) and wiped when taken or when the SSL is freed.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "server/tls_records.hpp"

namespace wsring::server {

// Makes the server sessions of `ctx` capture their TLS 1.3 application traffic secrets. It
// switches the context's key log callback on and off around its sessions' Finished messages,
// so all of the context's handshakes must run on one thread.
void capture_traffic_secrets(SSL_CTX* ctx);
// The context's sessions are taken over after the handshake (capture_traffic_secrets was called).
bool offloads_records(const SSL_CTX* ctx);

struct TlsOffload {
  ~TlsOffload();

  // A TLS 1.3 server session just established, with `records_sent` protected records already
  // written under the server's application key (the session tickets): the state that replaces
  // the SSL. nullptr (the session stays on OpenSSL) when the session does not qualify (TLS 1.2,
  // a suite this layer lacks, secrets not captured, OpenSSL holding unread bytes) or memory is short.
  static std::unique_ptr<TlsOffload> take_over(SSL* ssl, uint32_t records_sent);

  std::unique_ptr<TlsRecords> records;
  // The plaintext of a record larger than the caller's buffer, handed out over several reads.
  uint8_t* pending = nullptr;
  uint32_t pending_offset = 0;
  uint32_t pending_size = 0;
  // What the accessors report once the SSL is gone (OpenSSL's names are static strings).
  const char* version = "";
  const char* cipher = "";
  bool resumed = false;
  uint8_t alpn_size = 0;
  char alpn[16] = {};

  void drop_pending();
};

}  // namespace wsring::server
