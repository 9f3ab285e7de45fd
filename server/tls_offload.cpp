// The TlsSession paths of a session whose records are protected by TlsRecords (after
// take_over), and the capture of the traffic secrets that makes the hand-off possible.
#include "server/tls_offload.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "server/tls_session.hpp"

namespace wsring::server {

namespace {

// The key log costs: OpenSSL 3.0 formats every line, one "%02x" per byte, before it calls the
// callback, whether the callback wants the line or not. A TLS 1.3 server handshake logs five
// (about 9% of its instructions); the hand-off needs two. So the callback is set on the context
// only while one of its sessions is waiting for a secret it needs: from the moment its Finished
// is written (the exporter secret, then the server's application secret follow at once) or the
// client's Finished is read (the client's application secret follows), until that secret has
// come. The handshake secrets go unformatted. Switching a context-wide callback is why every
// reactor thread runs its handshakes on a context of its own (TlsContext::twin).

// Per context: how many of its sessions wait for a secret now.
struct SecretLog {
  unsigned waiting = 0;
};

// Per session: the two secrets of one handshake, as the key log callback delivers them.
struct CapturedSecrets {
  uint8_t client[48] = {};
  uint8_t server[48] = {};
  uint8_t client_size = 0;
  uint8_t server_size = 0;
  bool waiting = false;  // counted in its context's SecretLog
};

void free_log(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<SecretLog*>(ptr); }

int log_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_log);
  return index;
}

SecretLog* secret_log(const SSL_CTX* ctx) { return static_cast<SecretLog*>(SSL_CTX_get_ex_data(ctx, log_index())); }

void keep_traffic_secret(const SSL* ssl, const char* text);

void wait_for_secret(const SSL* ssl, CapturedSecrets* secrets) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  SecretLog* log = secret_log(ctx);
  if (!log || secrets->waiting) return;
  secrets->waiting = true;
  if (log->waiting++ == 0) SSL_CTX_set_keylog_callback(ctx, keep_traffic_secret);
}

void stop_waiting(const SSL* ssl, CapturedSecrets* secrets) {
  if (!secrets->waiting) return;
  secrets->waiting = false;
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  SecretLog* log = secret_log(ctx);
  if (log && --log->waiting == 0) SSL_CTX_set_keylog_callback(ctx, nullptr);
}

// ex_data's free: the SSL is being freed (its context is still there), or take_over gives up.
void free_secrets(void* ssl, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  if (!ptr) return;
  auto* secrets = static_cast<CapturedSecrets*>(ptr);
  if (ssl) stop_waiting(static_cast<const SSL*>(ssl), secrets);
  OPENSSL_cleanse(secrets, sizeof(CapturedSecrets));
  delete secrets;
}

int secrets_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_secrets);
  return index;
}

CapturedSecrets* secrets_of(const SSL* ssl) {
  auto* secrets = static_cast<CapturedSecrets*>(SSL_get_ex_data(ssl, secrets_index()));
  if (secrets) return secrets;
  secrets = new (std::nothrow) CapturedSecrets;
  if (!secrets) return nullptr;  // no hand-off: the session stays on OpenSSL
  if (SSL_set_ex_data(const_cast<SSL*>(ssl), secrets_index(), secrets) != 1) {
    delete secrets;
    return nullptr;
  }
  return secrets;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the secret of "<label> <client_random hex> <secret hex>" into out (48 bytes at most).
uint8_t parse_secret(std::string_view line, uint8_t* out) {
  const size_t space = line.rfind(' ');
  if (space == std::string_view::npos) return 0;
  const std::string_view hex = line.substr(space + 1);
  if (hex.size() % 2 != 0 || hex.size() > 96) return 0;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = hex_digit(hex[i]), low = hex_digit(hex[i + 1]);
    if (high < 0 || low < 0) return 0;
    out[i / 2] = uint8_t(high << 4 | low);
  }
  return uint8_t(hex.size() / 2);
}

// OpenSSL's key log callback: the only place OpenSSL 3 gives out traffic secrets. Only the
// first application secrets of a server session are kept.
void keep_traffic_secret(const SSL* ssl, const char* text) {
  const std::string_view line(text);
  const bool client = line.starts_with("CLIENT_TRAFFIC_SECRET_0 ");
  if ((!client && !line.starts_with("SERVER_TRAFFIC_SECRET_0 ")) || !SSL_is_server(ssl)) return;
  CapturedSecrets* secrets = secrets_of(ssl);
  if (!secrets) return;
  if (client)
    secrets->client_size = parse_secret(line, secrets->client);
  else
    secrets->server_size = parse_secret(line, secrets->server);
  stop_waiting(ssl, secrets);
}

// OpenSSL's message callback: sees each handshake message whole, the Finished it writes before
// the server's application secret is derived, the one it reads before the client's is.
void watch_finished(int, int version, int content_type, const void* message, size_t size, SSL* ssl, void*) {
  if (content_type != SSL3_RT_HANDSHAKE || size == 0 || static_cast<const uint8_t*>(message)[0] != SSL3_MT_FINISHED ||
      version != TLS1_3_VERSION || !SSL_is_server(ssl))
    return;
  if (CapturedSecrets* secrets = secrets_of(ssl)) wait_for_secret(ssl, secrets);
}

}  // namespace

void capture_traffic_secrets(SSL_CTX* ctx) {
  if (secrets_index() < 0 || log_index() < 0 || secret_log(ctx)) return;
  auto* log = new (std::nothrow) SecretLog;
  if (!log) return;  // no hand-off for this context's sessions
  if (SSL_CTX_set_ex_data(ctx, log_index(), log) != 1) {
    delete log;
    return;
  }
  SSL_CTX_set_msg_callback(ctx, watch_finished);
}

bool offloads_records(const SSL_CTX* ctx) { return secret_log(ctx) != nullptr; }

TlsOffload::~TlsOffload() { drop_pending(); }

void TlsOffload::drop_pending() {
  if (pending) OPENSSL_cleanse(pending, pending_offset + pending_size);
  std::free(pending);
  pending = nullptr;
  pending_offset = pending_size = 0;
}

std::unique_ptr<TlsOffload> TlsOffload::take_over(SSL* ssl, uint32_t records_sent) {
  auto* secrets = static_cast<CapturedSecrets*>(SSL_get_ex_data(ssl, secrets_index()));
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  Tls13Suite suite;
  if (!secrets || !cipher || SSL_version(ssl) != TLS1_3_VERSION || !SSL_is_server(ssl) || SSL_has_pending(ssl) ||
      !tls13_suite_from_id(SSL_CIPHER_get_protocol_id(cipher), &suite))
    return nullptr;
  const size_t size = tls13_secret_size(suite);
  if (secrets->client_size != size || secrets->server_size != size) return nullptr;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_size = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_size);
  if (alpn_size > sizeof(TlsOffload::alpn)) return nullptr;
  std::unique_ptr<TlsOffload> offload(new (std::nothrow) TlsOffload);
  if (!offload) return nullptr;
  offload->records = TlsRecords::create(suite, {secrets->client, size}, {secrets->server, size}, 0, records_sent);
  if (!offload->records) return nullptr;
  offload->version = SSL_get_version(ssl);
  offload->cipher = SSL_CIPHER_get_name(cipher);
  offload->resumed = SSL_session_reused(ssl) == 1;
  offload->alpn_size = uint8_t(alpn_size);
  if (alpn_size > 0) std::memcpy(offload->alpn, alpn, alpn_size);
  return offload;
}

// --- TlsSession after the hand-off

bool TlsSession::take_over() {
  std::unique_ptr<TlsOffload> offload = TlsOffload::take_over(ssl_, handover_records_);
  handover_ = false;
  if (!offload) {  // it stays on OpenSSL: the captured secrets have no use
    free_secrets(ssl_, SSL_get_ex_data(ssl_, secrets_index()), nullptr, 0, 0, nullptr);
    SSL_set_ex_data(ssl_, secrets_index(), nullptr);
    return false;
  }
  offload_ = offload.release();
  SSL_set_shutdown(ssl_, SSL_get_shutdown(ssl_) | SSL_SENT_SHUTDOWN);  // see ~TlsSession
  SSL_free(ssl_);  // the secrets' ex_data is wiped with it
  ssl_ = nullptr;
  return true;
}

// Appends to the stash from `input` until its last record is whole (or input runs out).
bool TlsSession::complete_stash(std::span<const uint8_t>& input) {
  for (;;) {
    size_t pos = 0, missing = 0;
    while (pos < stash_size_) {
      if (stash_size_ - pos < TlsRecords::kHeader) {
        missing = TlsRecords::kHeader - (stash_size_ - pos);
        break;
      }
      const size_t size = TlsRecords::record_size(stash_ + pos);
      if (size - TlsRecords::kHeader > TlsRecords::kMaxCiphertext) return true;  // open_records refuses it
      if (stash_size_ - pos < size) {
        missing = size - (stash_size_ - pos);
        break;
      }
      pos += size;
    }
    if (missing == 0 || input.empty()) return true;
    const size_t take = std::min(missing, input.size());
    if (!stash_append(input.first(take))) return false;
    input = input.subspan(take);
  }
}

// Hands out plaintext left from a record larger than the caller's buffer.
TlsStatus TlsSession::drain_pending(std::span<uint8_t> plain, size_t* produced) {
  TlsOffload& o = *offload_;
  const size_t n = std::min<size_t>(o.pending_size, plain.size() - *produced);
  std::memcpy(plain.data() + *produced, o.pending + o.pending_offset, n);
  *produced += n;
  o.pending_offset += uint32_t(n), o.pending_size -= uint32_t(n);
  if (o.pending_size > 0) return TlsStatus::PlainFull;
  o.drop_pending();
  return TlsStatus::NeedInput;
}

TlsStatus TlsSession::refuse_record(uint8_t alert, TlsError error, CiphertextSink& out) {
  // Nothing may follow our close_notify (RFC 8446 §6.1), not even a fatal alert.
  if (!close_sent_ && offload_->records->seal_alert(alert, out) == SealStatus::Ok) alert_sent_ = alert;
  fail(error);
  return TlsStatus::Failed;
}

// Opens the whole records at the front of `in` (advanced past them) into `plain`.
TlsStatus TlsSession::open_records(std::span<const uint8_t>& in, std::span<uint8_t> plain, size_t* produced,
                                   CiphertextSink& out) {
  TlsOffload& o = *offload_;
  while (in.size() >= TlsRecords::kHeader) {
    const size_t size = TlsRecords::record_size(in.data());
    if (size - TlsRecords::kHeader > TlsRecords::kMaxCiphertext)
      return refuse_record(tls_alert::kRecordOverflow, TlsError::BadRecord, out);
    if (in.size() < size) break;
    const size_t room = TlsRecords::plaintext_room(size);
    uint8_t* to = plain.data() + *produced;
    if (plain.size() - *produced < room) {
      if (*produced > 0) return TlsStatus::PlainFull;
      to = o.pending = static_cast<uint8_t*>(std::malloc(std::max<size_t>(room, 1)));  // a buffer smaller than a record
      if (!to) return refuse_record(tls_alert::kInternalError, TlsError::Internal, out);
    }
    const OpenedRecord r = o.records->open(in.first(size), to);
    in = in.subspan(size);
    if (to == o.pending && r.status == RecordStatus::Data) {
      o.pending_size = uint32_t(r.plaintext);
      if (drain_pending(plain, produced) == TlsStatus::PlainFull) return TlsStatus::PlainFull;
      continue;
    }
    if (to == o.pending) o.drop_pending();
    switch (r.status) {
      case RecordStatus::Data:
        *produced += r.plaintext;
        break;
      case RecordStatus::KeyUpdate:  // RFC 8446 §4.6.3: answer a request before sending more data
        if (r.update_requested && !close_sent_ && o.records->send_key_update(false, out) != SealStatus::Ok) {
          fail(TlsError::OutOfBuffers);
          return TlsStatus::Failed;
        }
        break;
      case RecordStatus::HandshakePart:
        break;
      case RecordStatus::Closed:
        alert_received_ = tls_alert::kCloseNotify;
        close_received_ = true;
        return TlsStatus::Closed;
      case RecordStatus::PeerAlert:
        alert_received_ = r.alert;
        fail(TlsError::PeerAlert);
        return TlsStatus::Failed;
      case RecordStatus::Failed:
        return refuse_record(r.alert, r.alert == tls_alert::kInternalError ? TlsError::Internal : TlsError::BadRecord,
                             out);
    }
  }
  return TlsStatus::NeedInput;
}

// read() after the hand-off: left-over plaintext, then held records, then `input`.
TlsStatus TlsSession::read_records(std::span<const uint8_t>& input, std::span<uint8_t> plain, size_t* produced,
                                   CiphertextSink& out) {
  if (offload_->pending_size > 0 && drain_pending(plain, produced) == TlsStatus::PlainFull) return TlsStatus::PlainFull;
  if (stash_size_ > 0) {
    if (!complete_stash(input)) return TlsStatus::Failed;
    std::span<const uint8_t> held(stash_, stash_size_);
    const TlsStatus status = open_records(held, plain, produced, out);
    if (held.empty()) {
      drop_stash();
    } else if (held.size() < stash_size_) {
      std::memmove(stash_, held.data(), held.size());
      stash_size_ = uint32_t(held.size());
    }
    if (status != TlsStatus::NeedInput || stash_size_ > 0) return status;
  }
  const TlsStatus status = open_records(input, plain, produced, out);
  if (status == TlsStatus::NeedInput && !input.empty()) {
    const bool kept = stash_append(input);
    input = {};
    if (!kept) return TlsStatus::Failed;
  }
  return status;
}

bool TlsSession::encrypt_records(std::span<const iovec> pieces, CiphertextSink& out) {
  switch (offload_->records->seal(pieces, out)) {
    case SealStatus::Ok: return true;
    case SealStatus::OutOfBuffers: fail(TlsError::OutOfBuffers); return false;
    default: fail(TlsError::Internal); return false;
  }
}

bool TlsSession::close_records(CiphertextSink& out) {
  close_sent_ = true;
  if (offload_->records->seal_alert(tls_alert::kCloseNotify, out) != SealStatus::Ok) {
    fail(TlsError::OutOfBuffers);
    return false;
  }
  alert_sent_ = tls_alert::kCloseNotify;
  return true;
}

}  // namespace wsring::server
