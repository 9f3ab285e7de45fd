// Test support for the TLS building blocks, header-only so the fuzz targets can use it too:
// - a test PKI made at run time with the OpenSSL API (a CA, server certificates for
//   localhost/127.0.0.1 with EC P-256 and RSA keys, an expired one, a wrong-host one, one from
//   an unknown CA, a chain through an intermediate), written as PEM files into a temporary
//   directory removed at exit;
// - a pair of sessions connected over memory, with ciphertext delivered in chunks of any size.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/tls_context.hpp"
#include "server/tls_session.hpp"

namespace wsring::tls_test {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

inline void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

inline KeyPtr make_ec_key() { return KeyPtr(EVP_EC_gen("P-256")); }
inline KeyPtr make_rsa_key() { return KeyPtr(EVP_RSA_gen(2048)); }

struct CertSpec {
  std::string common_name;
  std::string subject_alt_names;  // "DNS:localhost,IP:127.0.0.1"; empty: none
  bool ca = false;
  long valid_from_s = -3600;      // relative to now
  long valid_until_s = 30 * 86400;
};

inline void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  require(ext != nullptr && X509_add_ext(cert, ext, -1) == 1, "extension");
  X509_EXTENSION_free(ext);
}

// A certificate for `key`, signed by issuer/issuer_key (self-signed when issuer is null).
inline CertPtr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1000;
  CertPtr cert(X509_new());
  require(cert && X509_set_version(cert.get(), 2) == 1, "X509_new");
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid_from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.valid_until_s);
  require(X509_set_pubkey(cert.get(), key) == 1, "pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &ctx, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_extension(cert.get(), &ctx, NID_key_usage,
                spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (!spec.ca) add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");
  if (!spec.subject_alt_names.empty())
    add_extension(cert.get(), &ctx, NID_subject_alt_name, spec.subject_alt_names);
  require(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0, "sign");
  return cert;
}

inline void write_pem(const std::string& path, std::initializer_list<X509*> certs, EVP_PKEY* key = nullptr) {
  FILE* file = std::fopen(path.c_str(), "w");
  require(file != nullptr, "fopen");
  for (X509* cert : certs) require(PEM_write_X509(file, cert) == 1, "PEM_write_X509");
  if (key) require(PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM key");
  std::fclose(file);
}

inline void write_file(const std::string& path, const std::string& bytes) {
  FILE* file = std::fopen(path.c_str(), "wb");
  require(file != nullptr, "fopen");
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
}

// Paths of PEM files (and the keys in memory for tests that need them).
struct TestPki {
  std::string dir;
  std::string ca_cert, other_ca_cert;
  std::string ec_cert, ec_key;            // localhost, 127.0.0.1, ::1; P-256
  std::string rsa_cert, rsa_key;          // the same names; RSA 2048
  std::string chain_cert, chain_key;      // leaf + intermediate, under the CA
  std::string expired_cert;               // ec_key, expired yesterday
  std::string wrong_host_cert;            // ec_key, for other.example only
  std::string unknown_ca_cert;            // ec_key, signed by other_ca (not trusted)
  std::string other_ec_key;               // matches none of the certificates

  TestPki() {
    char pattern[] = "/tmp/wsring-tls-test-XXXXXX";
    require(mkdtemp(pattern) != nullptr, "mkdtemp");
    dir = pattern;
    const std::string sans = "DNS:localhost,IP:127.0.0.1,IP:::1";
    KeyPtr ca_key = make_ec_key(), other_ca_key = make_ec_key(), ec = make_ec_key(), rsa = make_rsa_key();
    KeyPtr mid_key = make_ec_key(), other = make_ec_key();
    CertPtr ca = make_cert({"wsring test CA", "", true}, ca_key.get(), nullptr, nullptr);
    CertPtr other_ca = make_cert({"unknown CA", "", true}, other_ca_key.get(), nullptr, nullptr);
    CertPtr mid = make_cert({"wsring intermediate", "", true}, mid_key.get(), ca.get(), ca_key.get());
    write_pem(ca_cert = dir + "/ca.pem", {ca.get()});
    write_pem(other_ca_cert = dir + "/other_ca.pem", {other_ca.get()});
    CertPtr leaf = make_cert({"localhost", sans}, ec.get(), ca.get(), ca_key.get());
    write_pem(ec_cert = dir + "/ec.pem", {leaf.get()});
    write_pem(ec_key = dir + "/ec.key", {}, ec.get());
    CertPtr rsa_leaf = make_cert({"localhost", sans}, rsa.get(), ca.get(), ca_key.get());
    write_pem(rsa_cert = dir + "/rsa.pem", {rsa_leaf.get()});
    write_pem(rsa_key = dir + "/rsa.key", {}, rsa.get());
    CertPtr chained = make_cert({"localhost", sans}, ec.get(), mid.get(), mid_key.get());
    write_pem(chain_cert = dir + "/chain.pem", {chained.get(), mid.get()});
    chain_key = ec_key;
    CertPtr expired = make_cert({"localhost", sans, false, -2 * 86400, -86400}, ec.get(), ca.get(), ca_key.get());
    write_pem(expired_cert = dir + "/expired.pem", {expired.get()});
    CertPtr wrong = make_cert({"other.example", "DNS:other.example"}, ec.get(), ca.get(), ca_key.get());
    write_pem(wrong_host_cert = dir + "/wrong_host.pem", {wrong.get()});
    CertPtr unknown = make_cert({"localhost", sans}, ec.get(), other_ca.get(), other_ca_key.get());
    write_pem(unknown_ca_cert = dir + "/unknown_ca.pem", {unknown.get()});
    write_pem(other_ec_key = dir + "/other.key", {}, other.get());
  }
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  std::string path(const std::string& name) const { return dir + "/" + name; }
};

inline const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

inline server::TlsContext server_context(const std::string& cert, const std::string& key,
                                         std::shared_ptr<const server::TicketKeys> tickets = nullptr,
                                         bool record_offload = true) {
  std::string error;
  server::TlsContext context =
      server::TlsContext::server({cert, key, std::move(tickets), {}, record_offload}, &error);
  require(bool(context), error.c_str());
  return context;
}

inline server::TlsContext client_context(server::TlsClientOptions options = {}) {
  if (options.ca_file.empty() && !options.insecure) options.ca_file = pki().ca_cert;
  std::string error;
  server::TlsContext context = server::TlsContext::client(options, &error);
  require(bool(context), error.c_str());
  return context;
}

// How ciphertext is cut into receives.
struct Chunker {
  enum Mode { Whole, OneByte, Random } mode = Whole;
  std::mt19937 rng{12345};
  size_t next(size_t left) {
    if (mode == Whole) return left;
    if (mode == OneByte) return 1;
    return std::min(left, size_t(std::uniform_int_distribution<int>(1, 3000)(rng)));
  }
};

// One end: its session, the ciphertext it wrote and has not delivered, the plaintext it read.
struct Peer {
  server::TlsSession session;
  server::VectorSink out;
  std::vector<uint8_t> received;
  server::TlsStatus last = server::TlsStatus::NeedInput;
  int handshakes_done = 0;
  size_t plain_size = 65536;
};

// Delivers everything `from` wrote to `to`, in chunks. Each chunk is lent from a buffer that
// is scribbled over afterwards: a session that kept a pointer into it would read garbage.
inline void deliver(Peer& from, Peer& to, Chunker& chunker) {
  std::vector<uint8_t> pending(from.out.bytes().begin(), from.out.bytes().end());
  from.out.clear();
  std::vector<uint8_t> plain(to.plain_size);
  for (size_t pos = 0; pos < pending.size();) {
    const size_t n = chunker.next(pending.size() - pos);
    std::vector<uint8_t> lent(pending.begin() + pos, pending.begin() + pos + n);
    pos += n;
    std::span<const uint8_t> input(lent);
    for (int rounds = 0; rounds < 100000; ++rounds) {
      const server::TlsReadResult r = to.session.read(input, plain, to.out);
      to.received.insert(to.received.end(), plain.begin(), plain.begin() + r.plaintext);
      to.handshakes_done += r.handshake_done;
      to.last = r.status;
      if (r.status != server::TlsStatus::PlainFull) break;
    }
    require(input.empty(), "read() left input behind without PlainFull");
    // Whole records only: OpenSSL holds no partial record, its read buffer is empty.
    if (to.last == server::TlsStatus::NeedInput && to.session.native_handle())
      require(SSL_has_pending(to.session.native_handle()) == 0, "OpenSSL kept unread ciphertext");
    std::fill(lent.begin(), lent.end(), 0xEE);
    if (to.last == server::TlsStatus::Failed || to.last == server::TlsStatus::Closed) return;
  }
}

// Delivers both ways until neither side has anything to say (bounded).
inline void pump(Peer& a, Peer& b, Chunker& chunker) {
  for (int i = 0; i < 1000 && (!a.out.bytes().empty() || !b.out.bytes().empty()); ++i) {
    if (!a.out.bytes().empty()) deliver(a, b, chunker);
    if (!b.out.bytes().empty()) deliver(b, a, chunker);
  }
}

// A client and a server session over memory; connect() runs the handshake.
struct Pair {
  Peer client, server;
  Chunker chunker;

  Pair(const server::TlsContext& client_ctx, const server::TlsContext& server_ctx,
       const std::string& server_name = "localhost", const server::TlsResumption& resume = {}) {
    client.session = server::TlsSession::client(client_ctx, server_name, resume);
    server.session = server::TlsSession::server(server_ctx);
    require(bool(client.session) && bool(server.session), "session");
  }
  bool connect() {
    client.session.start(client.out);
    pump(client, server, chunker);
    return client.session.established() && server.session.established();
  }
  void pump_all() { pump(client, server, chunker); }
};

}  // namespace wsring::tls_test
