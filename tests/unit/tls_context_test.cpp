#include "server/tls_context.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tests/unit/tls_test_support.hpp"

namespace wsring::server {
namespace {

using tls_test::pki;

std::string server_error(const std::string& cert, const std::string& key) {
  std::string error;
  TlsContext context = TlsContext::server({cert, key, nullptr, {}}, &error);
  EXPECT_FALSE(context);
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
  return error;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(TlsContext, LoadsEcRsaAndChainedCertificates) {
  for (auto [cert, key] : {std::pair{pki().ec_cert, pki().ec_key}, std::pair{pki().rsa_cert, pki().rsa_key},
                           std::pair{pki().chain_cert, pki().chain_key}}) {
    std::string error;
    TlsContext context = TlsContext::server({cert, key, nullptr, {}}, &error);
    EXPECT_TRUE(context) << error;
    EXPECT_TRUE(context.is_server());
  }
}

TEST(TlsContext, UnreadableFilesAreNamed) {
  const std::string missing = pki().path("missing.pem");
  std::string error = server_error(missing, pki().ec_key);
  EXPECT_TRUE(contains(error, "cannot read TLS certificate file " + missing + ": No such file")) << error;
  error = server_error(pki().ec_cert, missing);
  EXPECT_TRUE(contains(error, "cannot read TLS key file " + missing)) << error;
  error = server_error(pki().dir, pki().ec_key);  // a directory
  EXPECT_TRUE(contains(error, pki().dir + ": Is a directory")) << error;
}

TEST(TlsContext, BadPemIsNamed) {
  const std::string junk = pki().path("junk.pem");
  tls_test::write_file(junk, "this is not PEM\n");
  std::string error = server_error(junk, pki().ec_key);
  EXPECT_TRUE(contains(error, "TLS certificate file " + junk + ": no PEM certificate")) << error;
  error = server_error(pki().ec_cert, junk);
  EXPECT_TRUE(contains(error, "TLS key file " + junk + ": no unencrypted PEM private key")) << error;

  // A good leaf followed by a broken block.
  const std::string broken = pki().path("broken_chain.pem");
  FILE* in = std::fopen(pki().ec_cert.c_str(), "r");
  std::string leaf(8192, '\0');
  leaf.resize(std::fread(leaf.data(), 1, leaf.size(), in));
  std::fclose(in);
  tls_test::write_file(broken, leaf + "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n");
  error = server_error(broken, pki().ec_key);
  EXPECT_TRUE(contains(error, broken + ": bad PEM after the first certificate")) << error;
}

TEST(TlsContext, KeyThatDoesNotMatchIsRefused) {
  for (const std::string& key : {pki().other_ec_key, pki().rsa_key}) {
    const std::string error = server_error(pki().ec_cert, key);
    EXPECT_EQ(error, "TLS key file " + key + " does not match the certificate in " + pki().ec_cert);
  }
}

TEST(TlsContext, EncryptedKeyIsRefusedWithoutPrompting) {
  tls_test::KeyPtr key = tls_test::make_ec_key();
  const std::string path = pki().path("encrypted.key");
  FILE* file = std::fopen(path.c_str(), "w");
  char passphrase[] = "secret";
  ASSERT_EQ(PEM_write_PrivateKey(file, key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr, passphrase), 1);
  std::fclose(file);
  const std::string error = server_error(pki().ec_cert, path);
  EXPECT_TRUE(contains(error, "no unencrypted PEM private key")) << error;
}

TEST(TicketKeys, SizesAndFiles) {
  std::string error;
  std::vector<uint8_t> bytes(TicketKeys::kKeySize * 5, 7);
  for (size_t size : {size_t(0), size_t(79), size_t(81), size_t(400)}) {
    EXPECT_EQ(TicketKeys::from_bytes(bytes.data(), size, &error), nullptr) << size;
    EXPECT_TRUE(contains(error, std::to_string(size) + " bytes, expected 80")) << error;
  }
  for (size_t count : {1u, 2u, 4u}) {
    auto keys = TicketKeys::from_bytes(bytes.data(), count * TicketKeys::kKeySize, &error);
    ASSERT_NE(keys, nullptr);
    EXPECT_EQ(keys->keys().size(), count);
  }
  const std::string missing = pki().path("no.key");
  EXPECT_EQ(TicketKeys::load(missing, &error), nullptr);
  EXPECT_TRUE(contains(error, "cannot read TLS ticket key file " + missing)) << error;
  const std::string short_file = pki().path("short.key");
  tls_test::write_file(short_file, std::string(50, 'k'));
  EXPECT_EQ(TicketKeys::load(short_file, &error), nullptr);
  EXPECT_EQ(error, "TLS ticket key file " + short_file + ": 50 bytes, expected 80 random bytes per key, 1 to 4 keys");
  const std::string too_long = pki().path("long.key");
  tls_test::write_file(too_long, std::string(5 * 80, 'k'));
  EXPECT_EQ(TicketKeys::load(too_long, &error), nullptr);
  EXPECT_TRUE(contains(error, too_long)) << error;
  auto random1 = TicketKeys::random(&error), random2 = TicketKeys::random(&error);
  ASSERT_TRUE(random1 && random2);
  EXPECT_NE(random1->keys()[0].aes_key, random2->keys()[0].aes_key);
}

TEST(TlsContext, ClientOptions) {
  std::string error;
  TlsClientOptions options;
  options.ca_file = pki().path("missing-ca.pem");
  EXPECT_FALSE(TlsContext::client(options, &error));
  EXPECT_TRUE(contains(error, "cannot read CA file " + options.ca_file)) << error;
  options.ca_file = pki().path("junk-ca.pem");
  tls_test::write_file(options.ca_file, "nothing here\n");
  EXPECT_FALSE(TlsContext::client(options, &error));
  EXPECT_TRUE(contains(error, "CA file " + options.ca_file + ": no PEM certificate")) << error;
  options = {};
  options.min_version = TlsVersion::Tls13;
  options.max_version = TlsVersion::Tls12;
  EXPECT_FALSE(TlsContext::client(options, &error));
  options = {};  // the system store
  TlsContext system = TlsContext::client(options, &error);
  EXPECT_TRUE(system) << error;
  EXPECT_FALSE(system.is_server());
  EXPECT_EQ(SSL_CTX_get_verify_mode(system.native_handle()), SSL_VERIFY_PEER);
  options.insecure = true;
  EXPECT_EQ(SSL_CTX_get_verify_mode(TlsContext::client(options, &error).native_handle()), SSL_VERIFY_NONE);
}

TEST(TlsContext, SessionsNeedTheRightKindOfContext) {
  TlsContext server_ctx = tls_test::server_context(pki().ec_cert, pki().ec_key);
  TlsContext client_ctx = tls_test::client_context();
  EXPECT_FALSE(TlsSession::server(client_ctx));
  EXPECT_FALSE(TlsSession::client(server_ctx, "localhost"));
  EXPECT_FALSE(TlsSession::server(TlsContext()));
}

TEST(TlsContext, HandlesShareOneContext) {
  TlsContext a = tls_test::server_context(pki().ec_cert, pki().ec_key);
  TlsContext b = a;
  EXPECT_EQ(a.native_handle(), b.native_handle());
  TlsContext c = std::move(a);
  EXPECT_FALSE(a);
  EXPECT_EQ(c.native_handle(), b.native_handle());
}

// A reactor thread's own context: another SSL_CTX with the same certificate, chain, key, suites,
// record offload and ticket keys (a ticket from one resumes on the other).
TEST(TlsContext, TwinSharesEverythingButTheSslCtx) {
  std::string error;
  TlsServerOptions options{pki().chain_cert, pki().chain_key, nullptr, {}};
  options.tls13_suites = "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
  const TlsContext model = TlsContext::server(options, &error);
  ASSERT_TRUE(model) << error;
  const TlsContext twin = model.twin(&error);
  ASSERT_TRUE(twin) << error;
  ASSERT_NE(twin.native_handle(), model.native_handle());
  EXPECT_TRUE(twin.is_server());
  EXPECT_EQ(X509_cmp(SSL_CTX_get0_certificate(twin.native_handle()), SSL_CTX_get0_certificate(model.native_handle())), 0);
  EXPECT_EQ(EVP_PKEY_eq(SSL_CTX_get0_privatekey(twin.native_handle()), SSL_CTX_get0_privatekey(model.native_handle())), 1);
  TlsResumption ticket;
  {
    tls_test::Pair pair(tls_test::client_context(), model);
    ASSERT_TRUE(pair.connect());  // verifies the chain through the intermediate
    EXPECT_STREQ(pair.server.session.cipher(), "TLS_CHACHA20_POLY1305_SHA256");
    const std::vector<uint8_t> data(10, 't');
    ASSERT_TRUE(pair.server.session.encrypt(data, pair.server.out));
    pair.pump_all();  // the ticket arrives with it
    ticket = pair.client.session.resumption();
    ASSERT_TRUE(ticket);
  }
  tls_test::Pair pair(tls_test::client_context(), twin, "localhost", ticket);
  ASSERT_TRUE(pair.connect()) << pair.client.session.describe();
  EXPECT_TRUE(pair.server.session.resumed());
  EXPECT_TRUE(pair.server.session.offloaded());
  EXPECT_STREQ(pair.server.session.cipher(), "TLS_CHACHA20_POLY1305_SHA256");
  options.record_offload = false;
  const TlsContext plain = TlsContext::server(options, &error);
  ASSERT_TRUE(plain) << error;
  tls_test::Pair stays(tls_test::client_context(), plain.twin(&error));
  ASSERT_TRUE(stays.connect());
  EXPECT_FALSE(stays.server.session.offloaded());
  EXPECT_FALSE(TlsContext().twin(&error));
  EXPECT_FALSE(tls_test::client_context().twin(&error));
}

TEST(TlsContext, FailedReloadKeepsTheOldContext) {
  TlsContext current = tls_test::server_context(pki().ec_cert, pki().ec_key);
  SSL_CTX* before = current.native_handle();
  std::string error;
  TlsServerOptions mismatched{pki().ec_cert, pki().other_ec_key, nullptr, {}};
  EXPECT_FALSE(TlsContext::reload_server(&current, &mismatched, &error));
  EXPECT_TRUE(contains(error, "does not match")) << error;
  EXPECT_EQ(current.native_handle(), before);
  tls_test::Pair still(tls_test::client_context(), current);
  EXPECT_TRUE(still.connect());
  TlsServerOptions rsa{pki().rsa_cert, pki().rsa_key, nullptr, {}};
  EXPECT_TRUE(TlsContext::reload_server(&current, &rsa, &error)) << error;
  EXPECT_NE(current.native_handle(), before);
}

// Sessions hold their own reference: a reload in the middle of a handshake, with the old
// handle dropped at once, does not disturb it, nor an established session.
TEST(TlsContext, SessionsOutliveTheirContextHandle) {
  TlsContext current = tls_test::server_context(pki().ec_cert, pki().ec_key);
  tls_test::Pair established(tls_test::client_context(), current);
  ASSERT_TRUE(established.connect());
  tls_test::Pair halfway(tls_test::client_context(), current);
  halfway.client.session.start(halfway.client.out);
  tls_test::deliver(halfway.client, halfway.server, halfway.chunker);
  std::string error;
  TlsServerOptions rsa{pki().rsa_cert, pki().rsa_key, nullptr, {}};
  ASSERT_TRUE(TlsContext::reload_server(&current, &rsa, &error)) << error;
  halfway.pump_all();
  EXPECT_TRUE(halfway.server.session.established()) << halfway.server.session.describe();
  const std::vector<uint8_t> data(3000, 'd');
  ASSERT_TRUE(established.server.session.encrypt(data, established.server.out));
  established.pump_all();
  EXPECT_EQ(established.client.received, data);
  tls_test::Pair fresh(tls_test::client_context(), current);  // the new context, RSA
  ASSERT_TRUE(fresh.connect());
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(SSL_get0_peer_certificate(fresh.client.session.native_handle()))),
            EVP_PKEY_RSA);
}

}  // namespace
}  // namespace wsring::server
