#include "server/tls_session.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "server/tls_io.hpp"
#include "server/tls_offload.hpp"

namespace wsring::server {

namespace {

constexpr uint8_t kHandshakeRecord = 0x16;
constexpr uint8_t kAlertRecord = 0x15;

bool is_ip_literal(std::string_view name, bool* v6) {
  char text[64];
  if (name.empty() || name.size() >= sizeof text) return false;
  std::memcpy(text, name.data(), name.size());
  text[name.size()] = '\0';
  unsigned char address[16];
  *v6 = inet_pton(AF_INET6, text, address) == 1;
  return *v6 || inet_pton(AF_INET, text, address) == 1;
}

// SSL_get_error() reads the thread's error queue: it must start empty. Every path of this
// file leaves it empty, so it usually is; looking costs less than clearing all 16 slots
// (ERR_clear_error was 1.7% of a wss echo server's CPU).
void clear_error_queue() {
  if (ERR_peek_error() != 0) [[unlikely]]
    ERR_clear_error();
}

// The kind of an OpenSSL failure, from the first SSL-library error on the queue.
TlsError classify(unsigned long code, bool established) {
  if (ERR_GET_LIB(code) != ERR_LIB_SSL) return established ? TlsError::BadRecord : TlsError::HandshakeFailed;
  const int reason = ERR_GET_REASON(code);
  switch (reason) {
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return TlsError::NotTls;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return TlsError::ProtocolVersion;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return TlsError::CertificateVerify;
    case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
    case SSL_R_DATA_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_RECORD_TOO_SMALL:
    case SSL_R_BAD_RECORD_TYPE:
    case SSL_R_BLOCK_CIPHER_PAD_IS_WRONG:
      return TlsError::BadRecord;
    default:
      if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) return TlsError::PeerAlert;
      return established ? TlsError::BadRecord : TlsError::HandshakeFailed;
  }
}

}  // namespace

const char* tls_error_name(TlsError error) {
  switch (error) {
    case TlsError::None: return "none";
    case TlsError::NotTls: return "not TLS";
    case TlsError::ProtocolVersion: return "unsupported protocol version";
    case TlsError::HandshakeFailed: return "handshake failed";
    case TlsError::CertificateVerify: return "certificate verification failed";
    case TlsError::PeerAlert: return "fatal alert from the peer";
    case TlsError::BadRecord: return "bad record";
    case TlsError::EofInHandshake: return "connection closed during the handshake";
    case TlsError::EofWithoutCloseNotify: return "connection closed without close_notify";
    case TlsError::OutOfBuffers: return "out of output buffers";
    case TlsError::Internal: return "internal TLS error";
  }
  return "?";
}

// --- life cycle

TlsSession::TlsSession(SSL* ssl, bool server) : ssl_(ssl), server_(server) {}

TlsSession::TlsSession(TlsSession&& other) noexcept { *this = std::move(other); }

TlsSession& TlsSession::operator=(TlsSession&& other) noexcept {
  if (this != &other) {
    std::swap(ssl_, other.ssl_);
    std::swap(offload_, other.offload_);
    std::swap(stash_, other.stash_);
    std::swap(stash_size_, other.stash_size_);
    std::swap(stash_capacity_, other.stash_capacity_);
    std::swap(error_code_, other.error_code_);
    std::swap(error_, other.error_);
    std::swap(alert_sent_, other.alert_sent_);
    std::swap(alert_received_, other.alert_received_);
    std::swap(sniffed_, other.sniffed_);
    std::swap(server_, other.server_);
    std::swap(established_, other.established_);
    std::swap(close_received_, other.close_received_);
    std::swap(close_sent_, other.close_sent_);
    std::swap(keep_buffers_, other.keep_buffers_);
    std::swap(handover_, other.handover_);
    std::swap(handover_records_, other.handover_records_);
  }
  return *this;
}

TlsSession::~TlsSession() {
  // OpenSSL calls a session freed without our close_notify "bad": it takes the SSL_CTX's write
  // lock to remove it from the session cache and marks it not resumable (a TLS 1.0 rule
  // against truncation attacks). There is no cache here (stateless tickets), the lock would be
  // shared by every reactor thread, and WebSocket peers routinely hang up without
  // close_notify; a client must still resume with the ticket it keeps. So say it was sent.
  if (ssl_) SSL_set_shutdown(ssl_, SSL_get_shutdown(ssl_) | SSL_SENT_SHUTDOWN);
  SSL_free(ssl_);  // frees the BIO too
  delete offload_;
  std::free(stash_);
}

namespace {

// A new SSL with its span BIO (one BIO both ways: SSL_set_bio then takes one reference).
SSL* new_ssl(const TlsContext& context) {
  BIO_METHOD* method = span_bio_method();
  SSL* ssl = method ? SSL_new(context.native_handle()) : nullptr;
  BIO* bio = ssl ? BIO_new(method) : nullptr;
  if (!bio) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_bio(ssl, bio, bio);
  SSL_set_info_callback(ssl, tls_info_callback);
  return ssl;
}

}  // namespace

TlsSession TlsSession::server(const TlsContext& context) {
  if (!context || !context.is_server()) return {};
  SSL* ssl = new_ssl(context);
  if (ssl) SSL_set_accept_state(ssl);
  return ssl ? TlsSession(ssl, true) : TlsSession();
}

TlsSession TlsSession::client(const TlsContext& context, std::string_view server_name, const TlsResumption& resume) {
  if (!context || context.is_server()) return {};
  TlsSession session(new_ssl(context), false);
  SSL* ssl = session.ssl_;
  if (!ssl) return {};
  SSL_set_connect_state(ssl);
  if (server_name.size() > 2 && server_name.front() == '[' && server_name.back() == ']')
    server_name = server_name.substr(1, server_name.size() - 2);  // "[::1]" from a URL
  const std::string name(server_name);
  bool v6 = false;
  const bool ip = is_ip_literal(server_name, &v6);
  bool ok = true;
  if (!name.empty() && !ip) ok = SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
  if (ok && !name.empty() && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) {
    // Check the certificate's names, not only its chain: without this any valid certificate
    // from a trusted CA would be accepted for any host.
    if (ip)
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
    else
      ok = SSL_set1_host(ssl, name.c_str()) == 1;
  }
  if (ok && resume) ok = SSL_set_session(ssl, resume.native_handle()) == 1;
  if (!ok) {
    ERR_clear_error();
    return {};
  }
  return session;
}

// --- receive

bool TlsSession::start(CiphertextSink& out) {
  if (!ssl_ || server_) return ssl_ != nullptr;
  std::span<const uint8_t> none;
  uint8_t unused;
  read(none, {&unused, 1}, out);
  return !failed();
}

// A TLS stream starts with a handshake record (0x16) of major version 3; a server may also
// answer a ClientHello with an alert (0x15). Anything else (plain HTTP sent to the TLS port, a
// scanner's garbage, an SSLv2-style hello, a plain-HTTP server answering a client) is not
// TLS: it gets no alert, since the peer could not read one, and its own error kind.
bool TlsSession::check_first_bytes(std::span<const uint8_t> input) {
  for (size_t i = 0; sniffed_ < 2 && i < input.size(); ++i, ++sniffed_) {
    const uint8_t b = input[i];
    const bool ok = sniffed_ == 1 ? b == 0x03 : b == kHandshakeRecord || (!server_ && b == kAlertRecord);
    if (!ok) {
      fail(TlsError::NotTls);
      return false;
    }
  }
  return true;
}

TlsReadResult TlsSession::read(std::span<const uint8_t>& input, std::span<uint8_t> plain, CiphertextSink& out) {
  TlsReadResult result;
  if (!*this || failed() || close_received_ || (sniffed_ < 2 && !check_first_bytes(input))) {
    input = {};
    drop_stash();
    result.status = close_received_ && !failed() ? TlsStatus::Closed : TlsStatus::Failed;
    return result;
  }
  if (!offload_) read_openssl(input, plain, out, result);
  // The handshake is over: OpenSSL's call has returned, its SSL can go and the records after
  // the client's Finished are ours.
  if (handover_ && !take_over()) read_openssl(input, plain, out, result);  // it stays on OpenSSL
  if (offload_ && result.status == TlsStatus::NeedInput)
    result.status = read_records(input, plain, &result.plaintext, out);
  if (offload_ && (result.status == TlsStatus::Failed || result.status == TlsStatus::Closed)) {
    input = {};
    drop_stash();
  }
  return result;
}

// read() on OpenSSL: the handshake, and the records of a session that is not offloaded.
void TlsSession::read_openssl(std::span<const uint8_t>& input, std::span<uint8_t> plain, CiphertextSink& out,
                              TlsReadResult& result) {
  clear_error_queue();
  TlsIo io(*this, input, out);
  TlsStatus status = TlsStatus::NeedInput;
  // Usually one round. Another only if OpenSSL stopped with whole records left unread; the
  // bound and the progress check make sure a confused state cannot spin.
  for (int round = 0; status == TlsStatus::NeedInput && round < 8; ++round) {
    const size_t before = io.readable;
    if (!established_) status = handshake_step(io, &result.handshake_done);  // a client's first call: ClientHello
    if (handover_) break;
    if (established_ && status == TlsStatus::NeedInput) status = read_plaintext(io, plain, &result.plaintext);
    if (io.readable == 0 || io.readable == before) break;
  }
  // What OpenSSL read is gone; what is left stays: in `input` if the caller must call again,
  // else (the unfinished record) in the stash, so the receive buffer can be released.
  input = input.last(io.segment_size[1]);
  const size_t stash_left = io.segment_size[0];
  if (stash_left == 0) {
    drop_stash();
  } else if (stash_left < stash_size_) {
    std::memmove(stash_, stash_ + (stash_size_ - stash_left), stash_left);
    stash_size_ = uint32_t(stash_left);
  }
  if (status == TlsStatus::NeedInput && !input.empty() && !handover_) {  // else read_records takes it
    if (!stash_append(input)) status = TlsStatus::Failed;
    input = {};
  }
  if (status == TlsStatus::Failed || status == TlsStatus::Closed) {
    input = {};
    drop_stash();
  }
  if (status != TlsStatus::PlainFull) release_buffers_unless_kept();
  result.status = status;
}

bool TlsSession::hold(std::span<const uint8_t> input) {
  if (!ssl_ || established_ || failed() || close_received_ || (sniffed_ < 2 && !check_first_bytes(input)) ||
      (!input.empty() && !stash_append(input))) {
    drop_stash();
    return false;
  }
  return true;
}

TlsStatus TlsSession::handshake_step(TlsIo& io, bool* handshake_done) {
  io.protected_written = 0;
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    *handshake_done = true;
    // What OpenSSL wrote in the call that completed a server's handshake is sealed under the
    // new application key (its session tickets): our write sequence number starts after them.
    handover_ = server_ && offloads_records(SSL_get_SSL_CTX(ssl_));
    handover_records_ = io.protected_written;
    return TlsStatus::NeedInput;
  }
  return openssl_outcome(io, SSL_get_error(ssl_, r));
}

TlsStatus TlsSession::read_plaintext(TlsIo& io, std::span<uint8_t> plain, size_t* produced) {
  for (;;) {
    if (*produced == plain.size())
      return SSL_pending(ssl_) > 0 || io.readable > 0 ? TlsStatus::PlainFull : TlsStatus::NeedInput;
    size_t n = 0;
    if (SSL_read_ex(ssl_, plain.data() + *produced, plain.size() - *produced, &n) == 1) {
      *produced += n;
      // Every whole record read and none of its plaintext left: one more SSL_read_ex would
      // only fail for want of input, and SSL_get_error would say so; skip both.
      if (io.readable == 0 && SSL_pending(ssl_) == 0) return TlsStatus::NeedInput;
      continue;
    }
    return openssl_outcome(io, SSL_get_error(ssl_, 0));
  }
}

TlsStatus TlsSession::openssl_outcome(TlsIo& io, int ssl_error) {
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
      return TlsStatus::NeedInput;
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      close_received_ = true;
      if (established_) return TlsStatus::Closed;
      fail(TlsError::PeerAlert);
      return TlsStatus::Failed;
    case SSL_ERROR_SSL: {
      unsigned long code = ERR_peek_error();
      for (unsigned long c; (c = ERR_get_error()) != 0;)  // the first error from libssl is the cause
        if (ERR_GET_LIB(c) == ERR_LIB_SSL && ERR_GET_LIB(code) != ERR_LIB_SSL) code = c;
      fail(classify(code, established_), code);
      return TlsStatus::Failed;
    }
    default:  // SSL_ERROR_SYSCALL: our BIO failed, i.e. the sink had no buffer
      ERR_clear_error();
      fail(io.sink_dry ? TlsError::OutOfBuffers : TlsError::Internal);
      return TlsStatus::Failed;
  }
}

// Keeps the tail of an unfinished record: allocated when a record is split across receives,
// sized to that record, freed as soon as OpenSSL has read it.
bool TlsSession::stash_append(std::span<const uint8_t> more) {
  const size_t have = stash_size_ + more.size();
  size_t need = std::max<size_t>(have, kRecordHeader);
  if (have >= kRecordHeader) {
    auto at = [&](size_t i) { return i < stash_size_ ? stash_[i] : more[i - stash_size_]; };
    need = std::max(have, kRecordHeader + (size_t(at(3)) << 8 | at(4)));
  }
  if (need > 2 * (kRecordHeader + kMaxRecordBody)) {  // never for whole-record gating; be safe
    fail(TlsError::BadRecord);
    return false;
  }
  if (need > stash_capacity_) {
    auto* grown = static_cast<uint8_t*>(std::realloc(stash_, need));
    if (!grown) {
      fail(TlsError::Internal);
      return false;
    }
    stash_ = grown;
    stash_capacity_ = uint32_t(need);
  }
  std::memcpy(stash_ + stash_size_, more.data(), more.size());
  stash_size_ = uint32_t(have);
  return true;
}

void TlsSession::drop_stash() {
  std::free(stash_);
  stash_ = nullptr;
  stash_size_ = stash_capacity_ = 0;
}

void TlsSession::fail(TlsError error, unsigned long code) {
  if (error_ == TlsError::None) {
    error_ = error;
    error_code_ = uint32_t(code);
  }
}

// --- send

bool TlsSession::write_plaintext(TlsIo& io, const uint8_t* data, size_t size) {
  size_t written = 0;
  if (SSL_write_ex(ssl_, data, size, &written) == 1) return true;
  openssl_outcome(io, SSL_get_error(ssl_, 0));
  if (!failed()) fail(TlsError::Internal);  // a write cannot wait for input or output here
  return false;
}

bool TlsSession::encrypt(std::span<const iovec> pieces, CiphertextSink& out) {
  if (!*this || !established_ || failed() || close_sent_) return false;
  if (offload_) return encrypt_records(pieces, out);
  clear_error_queue();
  TlsIo io(*this, {}, out);
  // Small pieces (a frame header, a 32-byte message) are gathered here into full records: one
  // record costs 22 bytes on the wire and one AEAD call whatever its size.
  thread_local uint8_t staging[kMaxRecordPlaintext];
  size_t staged = 0;
  for (const iovec& piece : pieces) {
    const auto* data = static_cast<const uint8_t*>(piece.iov_base);
    size_t left = piece.iov_len;
    while (left > 0) {
      if (staged == 0 && left >= kMaxRecordPlaintext) {  // full records straight from the piece
        const size_t whole = left - left % kMaxRecordPlaintext;
        if (!write_plaintext(io, data, whole)) return false;
        data += whole, left -= whole;
        continue;
      }
      const size_t n = std::min(left, kMaxRecordPlaintext - staged);
      std::memcpy(staging + staged, data, n);
      staged += n, data += n, left -= n;
      if (staged == kMaxRecordPlaintext) {
        if (!write_plaintext(io, staging, staged)) return false;
        staged = 0;
      }
    }
  }
  const bool ok = staged == 0 || write_plaintext(io, staging, staged);
  release_buffers_unless_kept();
  return ok;
}

bool TlsSession::encrypt(std::span<const uint8_t> plaintext, CiphertextSink& out) {
  const iovec piece{const_cast<uint8_t*>(plaintext.data()), plaintext.size()};
  return encrypt(std::span<const iovec>(&piece, 1), out);
}

bool TlsSession::close(CiphertextSink& out) {
  if (!*this || !established_ || failed() || close_sent_) return false;
  if (offload_) return close_records(out);
  ERR_clear_error();
  TlsIo io(*this, {}, out);
  close_sent_ = true;
  // 0: our close_notify is out, the peer's not yet seen; 1: both. We never wait for the
  // peer's (RFC 8446 §6.1 allows closing the connection right after sending ours).
  const bool sent = SSL_shutdown(ssl_) >= 0;
  if (!sent) openssl_outcome(io, SSL_get_error(ssl_, -1));
  release_buffers();
  return sent;
}

// OpenSSL's ~17 KiB read and write buffers need not live as long as the connection.
// Whole-record feeding means nothing is pending here unless the caller still has to collect
// plaintext (PlainFull), and then this is not called (OpenSSL would refuse: nothing is lost).
void TlsSession::release_buffers() {
  if (ssl_ && SSL_free_buffers(ssl_) != 1) ERR_clear_error();
}

TlsError TlsSession::end_of_input() {
  drop_stash();
  if (!close_received_) fail(established_ ? TlsError::EofWithoutCloseNotify : TlsError::EofInHandshake);
  return error_;
}

// --- what was negotiated

std::string TlsSession::describe() const {
  std::string line = tls_error_name(error_);
  if (error_code_ != 0) {
    const char* reason = ERR_reason_error_string(error_code_);
    if (reason) line += std::string(" (") + reason + ")";
  }
  if (alert_sent_ != kNoAlert) line += std::string(", sent alert ") + SSL_alert_desc_string_long(alert_sent_);
  if (alert_received_ != kNoAlert)
    line += std::string(", received alert ") + SSL_alert_desc_string_long(alert_received_);
  if (error_ == TlsError::CertificateVerify && ssl_)
    line += std::string(": ") + X509_verify_cert_error_string(SSL_get_verify_result(ssl_));
  return line;
}

bool TlsSession::handshake_started() const { return established_ || (ssl_ && SSL_in_before(ssl_) == 0); }

bool TlsSession::resumed() const { return offload_ ? offload_->resumed : ssl_ && SSL_session_reused(ssl_) == 1; }

TlsRecords* TlsSession::records() const { return offload_ ? offload_->records.get() : nullptr; }

std::string_view TlsSession::alpn() const {
  if (offload_) return {offload_->alpn, offload_->alpn_size};
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  if (ssl_) SSL_get0_alpn_selected(ssl_, &data, &size);
  return data ? std::string_view(reinterpret_cast<const char*>(data), size) : std::string_view();
}

const char* TlsSession::version() const { return offload_ ? offload_->version : ssl_ ? SSL_get_version(ssl_) : ""; }

const char* TlsSession::cipher() const {
  return offload_ ? offload_->cipher : ssl_ ? SSL_get_cipher_name(ssl_) : "";
}

TlsResumption TlsSession::resumption() const {
  SSL_SESSION* session = ssl_ ? SSL_get1_session(ssl_) : nullptr;
  if (session && SSL_SESSION_is_resumable(session) == 1) return TlsResumption(session);
  SSL_SESSION_free(session);
  return {};
}

}  // namespace wsring::server
