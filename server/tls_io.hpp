// The custom BIO between OpenSSL and a TlsSession (an implementation detail of
// tls_session.cpp): it serves OpenSSL's reads straight from the caller's receive buffer, whole
// records only, and writes OpenSSL's records straight into the caller's CiphertextSink.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "server/tls_session.hpp"

namespace wsring::server {

constexpr size_t kRecordHeader = 5;
// Longest record body TLS allows (RFC 5246 §6.2.3: 2^14 + 2048). A header announcing more is
// handed to OpenSSL at once, which refuses it with record_overflow, instead of being buffered.
constexpr size_t kMaxRecordBody = 16384 + 2048;

// The state of one read()/encrypt()/close() call, reachable from the BIO callbacks through the
// BIO's data pointer, which is set for the duration of the call only. The logical input is the
// stash (an unfinished record kept from the last call) followed by the lent input.
struct TlsIo {
  TlsIo(TlsSession& s, std::span<const uint8_t> input, CiphertextSink& out);
  ~TlsIo() { BIO_set_data(bio, nullptr); }
  TlsIo(const TlsIo&) = delete;
  TlsIo& operator=(const TlsIo&) = delete;

  TlsSession* session;
  BIO* bio;
  const uint8_t* segment[2];  // stash, input: what OpenSSL has not read yet
  size_t segment_size[2];
  size_t readable;            // bytes OpenSSL may still read: whole records only
  CiphertextSink* sink;
  bool sink_dry = false;
  // Protected records (outer type application_data) written so far: the ones OpenSSL writes
  // under a new key start our write sequence number when the session is taken over.
  uint32_t protected_written = 0;
  uint32_t written_left = 0;     // body bytes of the record being written, not yet seen
  uint8_t written_header[5] = {};
  uint8_t written_header_size = 0;

  void note_alert(bool sent, uint8_t description) {
    (sent ? session->alert_sent_ : session->alert_received_) = description;
  }
};

// The BIO type (created once); one BIO per session, both directions.
BIO_METHOD* span_bio_method();
// Records the alerts a session sends and receives (SSL_set_info_callback).
void tls_info_callback(const SSL* ssl, int where, int value);

}  // namespace wsring::server
