// TLS configuration shared by many connections: one OpenSSL SSL_CTX with wsring's policy
// (TLS 1.2 and 1.3 only, ALPN http/1.1, no renegotiation, no 0-RTT, stateless session tickets
// under a key the caller shares between contexts). A server context is built from PEM files, a
// client context (wsring-load) from a CA bundle or the system store.
//
// TlsContext is a reference-counted handle: copies share one SSL_CTX, and every session made
// from it holds its own reference (OpenSSL's), so replacing a context (SIGHUP reload) never
// disturbs the sessions that are already running on the old one.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// <openssl/ssl.h> declares this too; repeating the typedef keeps that header out of ours.
typedef struct ssl_session_st SSL_SESSION;

namespace wsring::server {

// Session ticket keys. A ticket key file holds 1 to 4 keys of 80 random bytes each, back to
// back, nothing else (make one with `openssl rand 80 > ticket.key`). Each key is 16 bytes of
// name (sent in the clear inside the ticket so the right key is found), 32 bytes of HMAC-SHA256
// secret and 32 bytes of AES-256-CBC key. The first key seals new tickets; every key opens
// tickets, so a key can be rotated by putting a new one first and keeping the old one behind it
// for a ticket lifetime (2 hours). Every reactor thread and every server process that should
// resume each other's sessions must use the same keys.
class TicketKeys {
 public:
  static constexpr size_t kKeySize = 80;
  static constexpr size_t kMaxKeys = 4;
  struct Key {
    std::array<uint8_t, 16> name;
    std::array<uint8_t, 32> hmac_secret;
    std::array<uint8_t, 32> aes_key;
  };

  // Reads `path`; on failure returns nullptr and sets *error to one line naming the file.
  static std::shared_ptr<const TicketKeys> load(const std::string& path, std::string* error);
  // One fresh random key (when no file is given: tickets then resume within this process).
  static std::shared_ptr<const TicketKeys> random(std::string* error);
  // From raw bytes (80 * n); used by load() and by tests.
  static std::shared_ptr<const TicketKeys> from_bytes(const uint8_t* data, size_t size, std::string* error);

  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;
};

enum class TlsVersion : uint8_t { Tls12, Tls13 };

struct TlsServerOptions {
  std::string certificate_file;  // PEM: the leaf certificate first, then its intermediates
  std::string key_file;          // PEM private key (RSA or EC), unencrypted
  // Shared by every context that should resume the others' sessions (all reactor threads).
  // nullptr: a random key for this context alone.
  std::shared_ptr<const TicketKeys> ticket_keys;
  // Where ticket_keys came from (--tls-ticket-key): reload_server reads it again. Empty: the
  // keys stay (a random key lives as long as the process).
  std::string ticket_key_file;
  // TLS 1.3 sessions hand their records to wsring's own record layer once the handshake is
  // done, and free OpenSSL's SSL (--tls-offload; see TlsSession::offloaded()).
  bool record_offload = true;
  // The TLS 1.3 cipher suites, the server's order of preference (--tls-ciphersuites).
  std::string tls13_suites = kDefaultTls13Suites;
  static constexpr const char* kDefaultTls13Suites =
      "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
};

// Checks a colon-separated list of TLS 1.3 cipher suite names (OpenSSL's names, as
// --tls-ciphersuites takes them). OpenSSL itself skips unknown names without a word, so a typo
// would silently change what is offered. False with *why set (one line).
bool check_tls13_suites(std::string_view list, std::string* why);

// The five TLS 1.3 cipher suites by OpenSSL's names, in IANA order (0x1301 to 0x1305).
constexpr const char* kTls13SuiteNames[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                            "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                            "TLS_AES_128_CCM_8_SHA256"};
constexpr size_t kTls13SuiteCount = sizeof kTls13SuiteNames / sizeof kTls13SuiteNames[0];
// The index of a TLS 1.3 suite in kTls13SuiteNames, or -1 (a TLS 1.2 cipher, an unknown name).
int tls13_suite_index(std::string_view name);

struct TlsClientOptions {
  std::string ca_file;    // PEM bundle of trusted CAs; empty: the system store
  bool insecure = false;  // no certificate verification at all (--insecure)
  TlsVersion min_version = TlsVersion::Tls12;
  TlsVersion max_version = TlsVersion::Tls13;
  std::string tls13_suites;  // the TLS 1.3 suites offered, in order; empty: OpenSSL's default
};

class TlsContext {
 public:
  TlsContext() = default;  // empty: no context (a failed load)
  TlsContext(const TlsContext& other);
  TlsContext(TlsContext&& other) noexcept : ctx_(other.ctx_), server_(other.server_) { other.ctx_ = nullptr; }
  TlsContext& operator=(TlsContext other) noexcept;
  ~TlsContext();

  // Builds a server context. On failure returns an empty context and sets *error to one line
  // naming the file at fault (unreadable, not PEM, key not matching the certificate).
  static TlsContext server(const TlsServerOptions& options, std::string* error);
  // A server context of its own with this one's certificate, chain, key, ticket keys and
  // policy (suites, record offload): what each reactor thread runs its handshakes on, since the
  // record offload switches a context-wide callback during handshakes (see tls_offload.hpp).
  // Empty with *error set when memory is short.
  TlsContext twin(std::string* error) const;
  // Builds a client context (verification, versions, ALPN offer http/1.1).
  static TlsContext client(const TlsClientOptions& options, std::string* error);

  // Reload (SIGHUP): reads the certificate, the key and the ticket key file (if any) again,
  // builds a context and, only if all of that succeeds, replaces *current with it and
  // options->ticket_keys with the keys read. On failure both are kept (old keys stay valid) and
  // *error names the file at fault. Sessions made from the old context keep working: they hold
  // their own reference to it.
  static bool reload_server(TlsContext* current, TlsServerOptions* options, std::string* error);

  explicit operator bool() const { return ctx_ != nullptr; }
  bool is_server() const { return server_; }
  SSL_CTX* native_handle() const { return ctx_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  // wsring's server policy, without a certificate yet.
  static TlsContext server_policy(bool record_offload, const std::string& tls13_suites, std::string* error);
  SSL_CTX* ctx_ = nullptr;
  bool server_ = false;
};

// A client's resumable session (the last ticket from a server): keep it across reconnects and
// hand it to the next TlsSession::client() to resume instead of a full handshake. Copies share
// the SSL_SESSION.
class TlsResumption {
 public:
  TlsResumption() = default;
  explicit TlsResumption(SSL_SESSION* adopted) : session_(adopted) {}  // takes one reference
  TlsResumption(const TlsResumption& other);
  TlsResumption(TlsResumption&& other) noexcept : session_(other.session_) { other.session_ = nullptr; }
  TlsResumption& operator=(TlsResumption other) noexcept;
  ~TlsResumption();

  explicit operator bool() const { return session_ != nullptr; }
  SSL_SESSION* native_handle() const { return session_; }

 private:
  SSL_SESSION* session_ = nullptr;
};

}  // namespace wsring::server
