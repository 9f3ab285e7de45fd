// One TLS connection, sans-I/O: ciphertext in from a buffer the caller lends, plaintext out
// into a buffer the caller provides; plaintext pieces in, ciphertext out into buffers the
// caller hands over on demand (CiphertextSink). No sockets, no copies beyond OpenSSL's own.
//
// Receive: read(input, plain, out). OpenSSL reads the ciphertext straight from `input` through
// a custom BIO, and only ever sees whole records: the tail of an unfinished record is copied
// into a buffer of exactly that record's size, kept while the record is partial (an idle
// connection holds none). So when read() reports NeedInput every byte of `input` is consumed
// and the receive buffer can go back to the reactor at once.
// Send: encrypt(pieces, out) coalesces small pieces into full 16 KiB records (one record per
// 16 KiB, not one per piece) and writes the records into `out`: one flush, one send.
// Handshake messages, session tickets, alerts and close_notify come out through `out` too,
// from whichever call produced them.
//
// Use (server): on accept, TlsSession::server(context). On each receive:
//   do { r = session.read(input, plain, out); use r.plaintext bytes of plain; encrypt the
//        replies that point into plain } while (r.status == TlsStatus::PlainFull);
//   give the receive buffer back; send what `out` holds (one send); on Failed, send `out`
//   (it may hold an alert) and close; on Closed, close() then close.
// At end of stream, end_of_input() says whether the peer closed cleanly.
// Use (client): TlsSession::client(context, host, last_resumption); start(out) and send; then
// as above; keep resumption() for the next connection.
// Record offload (server, TLS 1.3, contexts with record_offload, the default): once OpenSSL has
// completed the handshake the session takes the application traffic secrets, frees the SSL and
// protects records itself (TlsRecords): read()/encrypt()/close() then run without OpenSSL's
// record layer, and an idle session keeps ~2.6 KB instead of ~14 KB. TLS 1.2, AES-CCM and
// client sessions stay on OpenSSL all the way.
// A session belongs to one thread at a time; a TlsContext may be shared by all threads.
#pragma once

#include <openssl/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/ciphertext_sink.hpp"
#include "server/tls_context.hpp"
#include "server/tls_records.hpp"

namespace wsring::server {

// Why a session ended. Each kind is a counter the engine can keep.
enum class TlsError : uint8_t {
  None,
  NotTls,            // the peer's first bytes are not TLS (plain HTTP on the TLS port): no alert sent
  ProtocolVersion,   // the peer offers only versions we refuse (TLS 1.0/1.1, SSLv2 hello) or refused ours
  HandshakeFailed,   // bad or unacceptable handshake (no shared cipher, ALPN h2 only, bad message...)
  CertificateVerify, // client: the server's certificate did not verify (expired, wrong host, unknown CA)
  PeerAlert,         // the peer sent a fatal alert (see alert_received())
  BadRecord,         // malformed record, record too long, failed decryption (bad MAC)
  EofInHandshake,    // the peer closed the connection before the handshake completed
  EofWithoutCloseNotify,  // the peer closed the connection without close_notify (truncation)
  OutOfBuffers,      // the sink had no buffer left
  Internal,          // out of memory or an unexpected OpenSSL state
};
const char* tls_error_name(TlsError error);

enum class TlsStatus : uint8_t {
  NeedInput,  // all input consumed; nothing more until more ciphertext arrives
  PlainFull,  // `plain` is full and more is ready: use it, then call read() again with the input left
  Closed,     // the peer's close_notify arrived: no more plaintext will come (see close())
  Failed,     // see error(); an alert may be in `out`: send it, then close the connection
};

struct TlsReadResult {
  size_t plaintext = 0;  // bytes written at the front of `plain` (valid whatever the status)
  TlsStatus status = TlsStatus::NeedInput;
  bool handshake_done = false;  // the handshake completed during this call
};

struct TlsIo;
struct TlsOffload;

class TlsSession {
 public:
  static constexpr size_t kMaxRecordPlaintext = 16384;  // TLS's limit; encrypt() fills records to it
  static constexpr uint8_t kNoAlert = 255;

  TlsSession() = default;
  TlsSession(TlsSession&& other) noexcept;
  TlsSession& operator=(TlsSession&& other) noexcept;
  ~TlsSession();

  // A server session; empty (false) if OpenSSL could not allocate one.
  static TlsSession server(const TlsContext& context);
  // A client session. server_name is sent as SNI when it is a DNS name (RFC 6066 forbids IP
  // literals) and the certificate is verified against it (DNS name or IP address) unless the
  // context is insecure. `resume` (may be empty) offers a previous session's ticket.
  static TlsSession client(const TlsContext& context, std::string_view server_name,
                           const TlsResumption& resume = TlsResumption());

  explicit operator bool() const { return ssl_ != nullptr || offload_ != nullptr; }

  // Client: writes the ClientHello into `out`. (Servers wait for input; a no-op for them.)
  bool start(CiphertextSink& out);

  // Feeds ciphertext, runs the handshake, decrypts into `plain` (which must not be empty).
  // `input` is advanced past what was consumed: empty unless the status is PlainFull.
  TlsReadResult read(std::span<const uint8_t>& input, std::span<uint8_t> plain, CiphertextSink& out);

  // Keeps `input` for a later read() without running OpenSSL (the caller defers handshake work
  // to a later turn): the bytes join the stash, so the caller's buffer can go back at once.
  // False when the session failed instead (the bytes are not TLS, or too much is held).
  bool hold(std::span<const uint8_t> input);

  // Encrypts `pieces` in order. False if the session cannot send (not established, failed,
  // closed by close(), or the sink ran dry: error() says which).
  bool encrypt(std::span<const iovec> pieces, CiphertextSink& out);
  bool encrypt(std::span<const uint8_t> plaintext, CiphertextSink& out);

  // Writes close_notify into `out` (once; only once established). False if nothing was written.
  bool close(CiphertextSink& out);

  // The transport reached end of stream (FIN). Returns None after the peer's close_notify,
  // else EofInHandshake or EofWithoutCloseNotify (then also error()).
  TlsError end_of_input();

  bool established() const { return established_; }
  // The handshake has begun: the peer's first flight (a server: its ClientHello) was processed.
  bool handshake_started() const;
  bool failed() const { return error_ != TlsError::None; }
  bool close_notify_received() const { return close_received_; }
  TlsError error() const { return error_; }
  uint8_t alert_sent() const { return alert_sent_; }          // TLS AlertDescription, kNoAlert if none
  uint8_t alert_received() const { return alert_received_; }  // likewise
  // One line for a log: the kind, OpenSSL's reason, the alert, the verification error.
  std::string describe() const;

  bool resumed() const;
  std::string_view alpn() const;     // "" when none was negotiated
  const char* version() const;       // "TLSv1.3", ...
  const char* cipher() const;
  // Client: the session to resume with on the next connection (empty if not resumable yet; in
  // TLS 1.3 the ticket arrives with the server's first records after the handshake).
  TlsResumption resumption() const;
  // OpenSSL's ~17 KiB read and write buffers: by default freed after every read() and encrypt()
  // (an idle session holds none). keep_buffers(true) keeps them across calls, so a busy
  // connection does not allocate and free them per batch; the owner then calls
  // release_buffers() once the connection goes quiet.
  void keep_buffers(bool keep) { keep_buffers_ = keep; }
  void release_buffers();
  // Bytes of an unfinished record held between reads (0 when idle).
  size_t buffered_ciphertext() const { return stash_size_; }
  // Null once the session is offloaded (see offloaded()).
  SSL* native_handle() const { return ssl_; }
  // A TLS 1.3 server session whose records wsring protects itself since the handshake ended
  // (TlsRecords): OpenSSL's SSL is freed. Contexts made with record_offload (the default).
  bool offloaded() const { return offload_ != nullptr; }
  // The record layer of an offloaded session (tests), else null.
  TlsRecords* records() const;

 private:
  friend struct TlsIo;
  explicit TlsSession(SSL* ssl, bool server);
  bool check_first_bytes(std::span<const uint8_t> input);
  TlsStatus handshake_step(TlsIo& io, bool* handshake_done);
  TlsStatus read_plaintext(TlsIo& io, std::span<uint8_t> plain, size_t* produced);
  TlsStatus openssl_outcome(TlsIo& io, int ssl_error);
  bool write_plaintext(TlsIo& io, const uint8_t* data, size_t size);
  void read_openssl(std::span<const uint8_t>& input, std::span<uint8_t> plain, CiphertextSink& out,
                    TlsReadResult& result);
  // After the hand-off (tls_offload.cpp).
  bool take_over();
  bool complete_stash(std::span<const uint8_t>& input);
  TlsStatus drain_pending(std::span<uint8_t> plain, size_t* produced);
  TlsStatus refuse_record(uint8_t alert, TlsError error, CiphertextSink& out);
  TlsStatus open_records(std::span<const uint8_t>& in, std::span<uint8_t> plain, size_t* produced,
                         CiphertextSink& out);
  TlsStatus read_records(std::span<const uint8_t>& input, std::span<uint8_t> plain, size_t* produced,
                         CiphertextSink& out);
  bool encrypt_records(std::span<const iovec> pieces, CiphertextSink& out);
  bool close_records(CiphertextSink& out);
  bool stash_append(std::span<const uint8_t> more);
  void drop_stash();
  void release_buffers_unless_kept() {
    if (!keep_buffers_) release_buffers();
  }
  void fail(TlsError error, unsigned long code = 0);

  SSL* ssl_ = nullptr;
  TlsOffload* offload_ = nullptr;  // after the hand-off (then ssl_ is null)
  uint8_t* stash_ = nullptr;  // the unfinished record's first bytes (null when none)
  uint32_t stash_size_ = 0;
  uint32_t stash_capacity_ = 0;
  uint32_t error_code_ = 0;   // OpenSSL's packed error code of the failure, for describe()
  TlsError error_ = TlsError::None;
  uint8_t alert_sent_ = kNoAlert;
  uint8_t alert_received_ = kNoAlert;
  uint8_t sniffed_ = 0;       // bytes of the peer's stream checked by check_first_bytes (0-2)
  bool server_ = false;
  bool established_ = false;
  bool close_received_ = false;
  bool close_sent_ = false;
  bool keep_buffers_ = false;
  bool handover_ = false;          // established, to be taken over once OpenSSL's call is over
  uint32_t handover_records_ = 0;  // records OpenSSL wrote under the new key (session tickets)
};

}  // namespace wsring::server
