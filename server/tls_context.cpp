#include "server/tls_context.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "server/tls_offload.hpp"

namespace wsring::server {
namespace {

constexpr size_t kMaxPemFile = 16u << 20;  // a CA bundle is ~250 KB; anything this big is a mistake

// Reads a whole (small) file; on failure sets *error to "cannot read <what> <path>: <reason>".
bool read_file(const std::string& path, size_t limit, const char* what, std::string* bytes, std::string* error) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) {
    *error = std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno);
    return false;
  }
  bytes->clear();
  char chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, file)) > 0 && bytes->size() <= limit) bytes->append(chunk, n);
  const int read_errno = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (read_errno != 0) {  // e.g. EISDIR: fopen() accepts a directory, reading it fails
    *error = std::string("cannot read ") + what + " " + path + ": " + std::strerror(read_errno);
    return false;
  }
  if (bytes->size() > limit) {
    *error = std::string(what) + " " + path + ": larger than " + std::to_string(limit) + " bytes";
    return false;
  }
  return true;
}

// The reason of the last OpenSSL error (for the tail of an error line); clears the queue so
// the next TLS call on this thread starts clean.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown OpenSSL error";
}

// Never ask for a passphrase: OpenSSL's default would prompt on the terminal and block the
// server. An encrypted key is refused instead.
int no_passphrase(char*, int, int, void*) { return 0; }

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

bool use_certificate_chain(SSL_CTX* ctx, const std::string& path, std::string* error) {
  std::string pem;
  if (!read_file(path, kMaxPemFile, "TLS certificate file", &pem, error)) return false;
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  X509* leaf = bio ? PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr) : nullptr;
  if (!leaf) {
    ERR_clear_error();
    *error = "TLS certificate file " + path + ": no PEM certificate in it";
    return false;
  }
  const bool used = SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  if (!used) {
    *error = "TLS certificate file " + path + ": " + openssl_reason();
    return false;
  }
  // The rest of the file is the chain (intermediates), sent after the leaf.
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* intermediate = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, intermediate) != 1) {
      X509_free(intermediate);
      *error = "TLS certificate file " + path + ": " + openssl_reason();
      return false;
    }
  }
  const unsigned long last = ERR_peek_last_error();
  if (last && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    *error = "TLS certificate file " + path + ": bad PEM after the first certificate: " + openssl_reason();
    return false;
  }
  ERR_clear_error();  // PEM_R_NO_START_LINE is how the loop above learns the file has ended
  return true;
}

bool use_private_key(SSL_CTX* ctx, const std::string& path, const std::string& certificate_path,
                     std::string* error) {
  std::string pem;
  if (!read_file(path, kMaxPemFile, "TLS key file", &pem, error)) return false;
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr;
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key) {
    ERR_clear_error();
    *error = "TLS key file " + path + ": no unencrypted PEM private key in it";
    return false;
  }
  // use_PrivateKey already refuses a key of the certificate's type that does not match it;
  // check_private_key also catches a key of another type (EC key, RSA certificate).
  const bool used = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  if (!used) {
    ERR_clear_error();
    *error = "TLS key file " + path + " does not match the certificate in " + certificate_path;
    return false;
  }
  return true;
}

// --- session tickets

// The ticket keys live in the SSL_CTX's ex_data, so they last exactly as long as the SSL_CTX
// does, including after its TlsContext handle is gone while old sessions still use it.
void free_ticket_keys(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::shared_ptr<const TicketKeys>*>(ptr);
}

int ticket_keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_ticket_keys);
  return index;
}

// Fetched once: an implicit fetch (EVP_aes_256_cbc()) per ticket would take the provider
// store's lock on every handshake, on every thread.
EVP_CIPHER* ticket_cipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

// Seals (enc = 1) or opens a ticket. Returns 1 to use the key, 2 to use it and issue a fresh
// ticket under the current key, 0 for an unknown key (full handshake), -1 on error.
int ticket_key_callback(SSL* ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                        EVP_CIPHER_CTX* cipher_ctx, EVP_MAC_CTX* mac_ctx, int enc) {
  auto* holder = static_cast<std::shared_ptr<const TicketKeys>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
  if (!holder || !*holder || (*holder)->keys().empty() || !ticket_cipher()) return -1;
  const auto& keys = (*holder)->keys();
  const TicketKeys::Key* key = &keys.front();
  int result = 1;
  if (enc) {
    std::memcpy(key_name, key->name.data(), key->name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticket_cipher())) != 1) return -1;
  } else {
    key = nullptr;
    for (const auto& k : keys)
      if (std::memcmp(key_name, k.name.data(), k.name.size()) == 0) key = &k;
    if (!key) return 0;
    if (key != &keys.front()) result = 2;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<uint8_t*>(key->hmac_secret.data()),
                                        key->hmac_secret.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac_ctx, params) != 1) return -1;
  const int ok = enc ? EVP_EncryptInit_ex2(cipher_ctx, ticket_cipher(), key->aes_key.data(), iv, nullptr)
                     : EVP_DecryptInit_ex2(cipher_ctx, ticket_cipher(), key->aes_key.data(), iv, nullptr);
  return ok == 1 ? result : -1;
}

bool install_ticket_keys(SSL_CTX* ctx, std::shared_ptr<const TicketKeys> keys, std::string* error) {
  if (!keys && !(keys = TicketKeys::random(error))) return false;
  auto* holder = new std::shared_ptr<const TicketKeys>(std::move(keys));
  if (SSL_CTX_set_ex_data(ctx, ticket_keys_index(), holder) != 1) {
    delete holder;
    *error = "TLS: cannot attach the session ticket keys: " + openssl_reason();
    return false;
  }
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_callback);
  return true;
}

// --- policy

// ALPN (RFC 7301): pick http/1.1, the only protocol a WebSocket upgrade runs on. A client that
// offers ALPN without it (h2 only) would speak a protocol we cannot parse: it gets the fatal
// no_application_protocol alert the RFC asks for. A client offering no ALPN is served.
int select_http11(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
                  unsigned int in_size, void*) {
  static constexpr unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < in_size;) {
    const unsigned int size = in[i];
    if (i + 1 + size > in_size) break;
    if (size == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, size) == 0) {
      *out = in + i + 1;
      *out_size = static_cast<unsigned char>(size);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + size;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int version_number(TlsVersion v) { return v == TlsVersion::Tls12 ? TLS1_2_VERSION : TLS1_3_VERSION; }

// What servers and clients share.
void apply_common_policy(SSL_CTX* ctx, TlsVersion min_version, TlsVersion max_version) {
  // TLS 1.0 and 1.1 are deprecated (RFC 8996); a ClientHello offering only them is refused
  // with the protocol_version alert.
  SSL_CTX_set_min_proto_version(ctx, version_number(min_version));
  SSL_CTX_set_max_proto_version(ctx, version_number(max_version));
  // No SSL_MODE_RELEASE_BUFFERS: it frees and reallocates OpenSSL's ~17 KiB record buffer for
  // every record (about 9% of the cost of decrypting a small one). TlsSession instead frees
  // both buffers at the end of each receive batch and each send (SSL_free_buffers), so an idle
  // session still holds none: ~34 KiB less per idle connection than OpenSSL's default.
  // Renegotiation is a TLS 1.2 feature with a history of attacks and a cheap CPU
  // denial-of-service (one message, one full handshake); WebSocket never needs it.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
}

// The TLS 1.3 suites a context offers or accepts, in order; checked first, since OpenSSL skips
// names it does not know.
bool use_tls13_suites(SSL_CTX* ctx, const std::string& suites, std::string* error) {
  if (!check_tls13_suites(suites, error)) return false;
  if (SSL_CTX_set_ciphersuites(ctx, suites.c_str()) == 1) return true;
  *error = "TLS: cannot set the TLS 1.3 cipher suites: " + openssl_reason();
  return false;
}

}  // namespace

// --- cipher suites

int tls13_suite_index(std::string_view name) {
  for (size_t i = 0; i < kTls13SuiteCount; ++i)
    if (name == kTls13SuiteNames[i]) return int(i);
  return -1;
}

bool check_tls13_suites(std::string_view list, std::string* why) {
  if (list.empty()) {
    *why = "expected one or more TLS 1.3 cipher suites separated by ':'";
    return false;
  }
  for (size_t start = 0; start <= list.size();) {
    const size_t end = std::min(list.find(':', start), list.size());
    const std::string_view name(list.data() + start, end - start);
    if (tls13_suite_index(name) < 0) {
      *why = "unknown TLS 1.3 cipher suite '" + std::string(name) + "' (known:";
      for (const char* known : kTls13SuiteNames) *why += std::string(" ") + known;
      *why += ")";
      return false;
    }
    start = end + 1;
  }
  return true;
}

// --- TicketKeys

std::shared_ptr<const TicketKeys> TicketKeys::from_bytes(const uint8_t* data, size_t size, std::string* error) {
  if (size == 0 || size % kKeySize != 0 || size / kKeySize > kMaxKeys) {
    *error = std::to_string(size) + " bytes, expected 80 random bytes per key, 1 to 4 keys";
    return nullptr;
  }
  auto keys = std::make_shared<TicketKeys>();
  for (size_t offset = 0; offset < size; offset += kKeySize) {
    Key key;
    std::memcpy(key.name.data(), data + offset, 16);
    std::memcpy(key.hmac_secret.data(), data + offset + 16, 32);
    std::memcpy(key.aes_key.data(), data + offset + 48, 32);
    keys->keys_.push_back(key);
  }
  return keys;
}

std::shared_ptr<const TicketKeys> TicketKeys::load(const std::string& path, std::string* error) {
  std::string bytes;
  if (!read_file(path, kKeySize * kMaxKeys, "TLS ticket key file", &bytes, error)) return nullptr;
  std::string why;
  auto keys = from_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &why);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (!keys) *error = "TLS ticket key file " + path + ": " + why;
  return keys;
}

std::shared_ptr<const TicketKeys> TicketKeys::random(std::string* error) {
  uint8_t bytes[kKeySize];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    *error = "TLS: no random bytes for a session ticket key: " + openssl_reason();
    return nullptr;
  }
  auto keys = from_bytes(bytes, sizeof bytes, error);
  OPENSSL_cleanse(bytes, sizeof bytes);
  return keys;
}

// --- TlsContext

TlsContext::TlsContext(const TlsContext& other) : ctx_(other.ctx_), server_(other.server_) {
  if (ctx_) SSL_CTX_up_ref(ctx_);
}

TlsContext& TlsContext::operator=(TlsContext other) noexcept {
  std::swap(ctx_, other.ctx_);
  std::swap(server_, other.server_);
  return *this;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsContext TlsContext::server_policy(bool record_offload, const std::string& tls13_suites, std::string* error) {
  TlsContext context(SSL_CTX_new(TLS_server_method()), true);
  SSL_CTX* ctx = context.ctx_;
  if (!ctx) {
    *error = "TLS: cannot create a server context: " + openssl_reason();
    return {};
  }
  apply_common_policy(ctx, TlsVersion::Tls12, TlsVersion::Tls13);
  // Resumption is by stateless tickets only: no per-session server cache (memory per
  // connection, and a lock every reactor thread would take on each handshake).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // One TLS 1.3 ticket per handshake (OpenSSL sends 2): a client resumes with the newest one,
  // and each ticket costs an encryption and ~250 bytes on the wire.
  SSL_CTX_set_num_tickets(ctx, 1);
  // No 0-RTT: early data can be replayed, and an upgrade request must not be.
  SSL_CTX_set_max_early_data(ctx, 0);
  SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
  // The server's order decides the TLS 1.3 suite. AES-128-GCM first: its SHA-256 key schedule
  // and transcript hash cost less than AES-256-GCM's SHA-384 (about 5% of a full handshake's
  // instructions; SHA-256 also has CPU instructions of its own), and its records are cheaper to
  // protect. A client that lists ChaCha20 first (a CPU without AES instructions) still gets it.
  if (!use_tls13_suites(ctx, tls13_suites, error)) return {};
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
  if (record_offload) capture_traffic_secrets(ctx);
  return context;
}

TlsContext TlsContext::server(const TlsServerOptions& options, std::string* error) {
  TlsContext context = server_policy(options.record_offload, options.tls13_suites, error);
  if (!context || !use_certificate_chain(context.ctx_, options.certificate_file, error) ||
      !use_private_key(context.ctx_, options.key_file, options.certificate_file, error) ||
      !install_ticket_keys(context.ctx_, options.ticket_keys, error))
    return {};
  return context;
}

TlsContext TlsContext::twin(std::string* error) const {
  if (!ctx_ || !server_) {
    *error = "TLS: no server context to copy";
    return {};
  }
  std::string suites;  // this context's TLS 1.3 suites, in order (its list holds them first)
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx_);
  for (int i = 0; ciphers && i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    if ((SSL_CIPHER_get_protocol_id(cipher) & 0xff00) != 0x1300) continue;  // TLS 1.3 suites are 0x13xx
    if (!suites.empty()) suites += ':';
    suites += SSL_CIPHER_get_name(cipher);
  }
  TlsContext context = server_policy(offloads_records(ctx_), suites, error);
  if (!context) return {};
  SSL_CTX* ctx = context.ctx_;
  X509* leaf = SSL_CTX_get0_certificate(ctx_);
  EVP_PKEY* key = SSL_CTX_get0_privatekey(ctx_);
  STACK_OF(X509)* chain = nullptr;
  auto* keys = static_cast<std::shared_ptr<const TicketKeys>*>(SSL_CTX_get_ex_data(ctx_, ticket_keys_index()));
  if (!leaf || !key || !keys || SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_get0_chain_certs(ctx_, &chain) != 1 ||
      SSL_CTX_set1_chain(ctx, chain) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
    *error = "TLS: cannot copy the server context: " + openssl_reason();
    return {};
  }
  return install_ticket_keys(ctx, *keys, error) ? context : TlsContext();
}

TlsContext TlsContext::client(const TlsClientOptions& options, std::string* error) {
  if (options.min_version > options.max_version) {
    *error = "TLS: the minimum version is above the maximum version";
    return {};
  }
  TlsContext context(SSL_CTX_new(TLS_client_method()), false);
  SSL_CTX* ctx = context.ctx_;
  if (!ctx) {
    *error = "TLS: cannot create a client context: " + openssl_reason();
    return {};
  }
  apply_common_policy(ctx, options.min_version, options.max_version);
  if (options.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!options.ca_file.empty()) {
      std::string probe;  // a readable file with a clear message; OpenSSL's own would be vague
      if (!read_file(options.ca_file, kMaxPemFile, "CA file", &probe, error)) return {};
      if (SSL_CTX_load_verify_file(ctx, options.ca_file.c_str()) != 1) {
        *error = "CA file " + options.ca_file + ": no PEM certificate in it (" + openssl_reason() + ")";
        return {};
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      *error = "TLS: cannot use the system certificate store: " + openssl_reason();
      return {};
    }
  }
  if (!options.tls13_suites.empty() && !use_tls13_suites(ctx, options.tls13_suites, error)) return {};
  static constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof kAlpnHttp11) != 0) {  // 0 is success here
    *error = "TLS: cannot set ALPN: " + openssl_reason();
    return {};
  }
  return context;
}

bool TlsContext::reload_server(TlsContext* current, TlsServerOptions* options, std::string* error) {
  TlsServerOptions next_options = *options;
  if (!options->ticket_key_file.empty()) {
    next_options.ticket_keys = TicketKeys::load(options->ticket_key_file, error);
    if (!next_options.ticket_keys) return false;
  }
  TlsContext next = server(next_options, error);
  if (!next) return false;
  *current = std::move(next);
  options->ticket_keys = std::move(next_options.ticket_keys);
  return true;
}

// --- TlsResumption

TlsResumption::TlsResumption(const TlsResumption& other) : session_(other.session_) {
  if (session_) SSL_SESSION_up_ref(session_);
}

TlsResumption& TlsResumption::operator=(TlsResumption other) noexcept {
  std::swap(session_, other.session_);
  return *this;
}

TlsResumption::~TlsResumption() { SSL_SESSION_free(session_); }

}  // namespace wsring::server
