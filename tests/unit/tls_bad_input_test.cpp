// Every kind of bad input a TLS session can meet: each ends in its own error kind, with the
// alert TLS asks for, and never a crash, a hang or a buffer kept.
#include "server/tls_session.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <random>
#include <string_view>

#include "tests/unit/tls_test_support.hpp"

namespace wsring::server {
namespace {

using tls_test::Pair;
using tls_test::pki;

TlsContext ec_server() { return tls_test::server_context(pki().ec_cert, pki().ec_key); }

struct Fed {
  TlsStatus status = TlsStatus::NeedInput;
  size_t plaintext = 0;
};

// Feeds bytes to a session in chunks of `chunk` bytes; stops at the first failure.
Fed feed(TlsSession& session, std::span<const uint8_t> bytes, VectorSink& out, size_t chunk = SIZE_MAX) {
  Fed fed;
  std::vector<uint8_t> plain(4096);
  for (size_t pos = 0; pos < bytes.size() && fed.status == TlsStatus::NeedInput;) {
    std::span<const uint8_t> input = bytes.subspan(pos, std::min(chunk, bytes.size() - pos));
    pos += input.size();
    do {
      const TlsReadResult r = session.read(input, plain, out);
      fed.status = r.status;
      fed.plaintext += r.plaintext;
    } while (fed.status == TlsStatus::PlainFull);
    EXPECT_TRUE(input.empty());
  }
  return fed;
}

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// The alert (level, description) of the first record in `out`, if it is a plaintext alert.
std::pair<int, int> first_alert(std::span<const uint8_t> out) {
  if (out.size() < 7 || out[0] != 0x15) return {-1, -1};
  return {out[5], out[6]};
}

// A ClientHello from a real OpenSSL client configured for an old version (security level 0,
// the only way OpenSSL 3 still speaks TLS 1.0/1.1).
std::vector<uint8_t> legacy_client_hello(int version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  EXPECT_EQ(SSL_connect(ssl), -1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  std::vector<uint8_t> hello(data, data + size);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

std::vector<uint8_t> modern_client_hello() {
  TlsSession client = TlsSession::client(tls_test::client_context(), "localhost");
  VectorSink out;
  EXPECT_TRUE(client.start(out));
  return {out.bytes().begin(), out.bytes().end()};
}

TEST(TlsBadInput, PlainHttpIsNotTlsAndGetsNoAlert) {
  for (size_t chunk : {size_t(1), size_t(2), SIZE_MAX}) {
    TlsSession server = TlsSession::server(ec_server());
    VectorSink out;
    const Fed fed = feed(server, bytes_of("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), out, chunk);
    EXPECT_EQ(fed.status, TlsStatus::Failed);
    EXPECT_EQ(server.error(), TlsError::NotTls);
    EXPECT_TRUE(out.bytes().empty());  // an HTTP client could not read an alert
    EXPECT_EQ(server.buffered_ciphertext(), 0u);
  }
}

TEST(TlsBadInput, ClientOfAPlainHttpServerSeesNotTls) {
  TlsSession client = TlsSession::client(tls_test::client_context(), "localhost");
  VectorSink out;
  ASSERT_TRUE(client.start(out));
  EXPECT_EQ(feed(client, bytes_of("HTTP/1.1 400 Bad Request\r\n\r\n"), out).status, TlsStatus::Failed);
  EXPECT_EQ(client.error(), TlsError::NotTls);
}

TEST(TlsBadInput, HandshakeRecordTypeButNotVersion3IsNotTls) {
  TlsSession server = TlsSession::server(ec_server());
  VectorSink out;
  const uint8_t first = 0x16;
  EXPECT_EQ(feed(server, {&first, 1}, out).status, TlsStatus::NeedInput);
  EXPECT_EQ(feed(server, bytes_of("GET"), out).status, TlsStatus::Failed);
  EXPECT_EQ(server.error(), TlsError::NotTls);
}

TEST(TlsBadInput, GarbageNeverCrashesAndAlwaysEndsInAKind) {
  std::mt19937 rng(7);
  int failed = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> garbage(1 + rng() % 600);
    for (auto& b : garbage) b = uint8_t(rng());
    if (i % 2 == 0) garbage[0] = 0x16;  // half of them get past the first-byte check
    if (i % 4 == 0 && garbage.size() > 1) garbage[1] = 0x03;
    TlsSession server = TlsSession::server(ec_server());
    VectorSink out;
    const Fed fed = feed(server, garbage, out, 1 + rng() % 64);
    EXPECT_EQ(fed.plaintext, 0u);
    if (fed.status == TlsStatus::Failed) {
      ++failed;
      EXPECT_NE(server.error(), TlsError::None);
    } else {
      EXPECT_LT(server.buffered_ciphertext(), 5 + 65536u);
    }
  }
  EXPECT_GT(failed, 250);
}

TEST(TlsBadInput, TruncatedClientHelloWaitsForTheRest) {
  const std::vector<uint8_t> hello = modern_client_hello();
  ASSERT_GT(hello.size(), 100u);
  TlsSession server = TlsSession::server(ec_server());
  VectorSink out;
  const std::span<const uint8_t> all(hello);
  EXPECT_EQ(feed(server, all.first(hello.size() - 1), out, 7).status, TlsStatus::NeedInput);
  EXPECT_TRUE(out.bytes().empty());
  EXPECT_EQ(server.buffered_ciphertext(), hello.size() - 1);  // the unfinished record, kept
  EXPECT_EQ(feed(server, all.last(1), out).status, TlsStatus::NeedInput);
  EXPECT_EQ(server.buffered_ciphertext(), 0u);
  EXPECT_FALSE(out.bytes().empty());  // ServerHello...
  EXPECT_EQ(out.bytes()[0], 0x16);
  EXPECT_EQ(server.end_of_input(), TlsError::EofInHandshake);
}

TEST(TlsBadInput, Tls10And11ClientHellosGetProtocolVersion) {
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    const std::vector<uint8_t> hello = legacy_client_hello(version);
    ASSERT_GT(hello.size(), 50u) << version;
    TlsSession server = TlsSession::server(ec_server());
    VectorSink out;
    EXPECT_EQ(feed(server, hello, out).status, TlsStatus::Failed);
    EXPECT_EQ(server.error(), TlsError::ProtocolVersion) << server.describe();
    EXPECT_EQ(server.alert_sent(), SSL_AD_PROTOCOL_VERSION);
    EXPECT_EQ(first_alert(out.bytes()), std::make_pair(2, int(SSL_AD_PROTOCOL_VERSION)));
  }
}

TEST(TlsBadInput, OverlongRecordIsRefusedAtItsHeader) {
  TlsSession server = TlsSession::server(ec_server());
  VectorSink out;
  const uint8_t header[] = {0x16, 0x03, 0x01, 0xff, 0xff};
  EXPECT_EQ(feed(server, header, out).status, TlsStatus::Failed);  // not waiting for 64 KiB
  EXPECT_EQ(server.error(), TlsError::BadRecord) << server.describe();
  EXPECT_EQ(server.alert_sent(), SSL_AD_RECORD_OVERFLOW);
  EXPECT_EQ(server.buffered_ciphertext(), 0u);
}

TEST(TlsBadInput, TamperedRecordGetsBadRecordMac) {
  Pair pair(tls_test::client_context(), ec_server());
  ASSERT_TRUE(pair.connect());
  const std::vector<uint8_t> data(100, 'x');
  ASSERT_TRUE(pair.client.session.encrypt(data, pair.client.out));
  std::vector<uint8_t> record(pair.client.out.bytes().begin(), pair.client.out.bytes().end());
  record.back() ^= 1;  // the AEAD tag
  const Fed fed = feed(pair.server.session, record, pair.server.out);
  EXPECT_EQ(fed.status, TlsStatus::Failed);
  EXPECT_EQ(fed.plaintext, 0u);
  EXPECT_EQ(pair.server.session.error(), TlsError::BadRecord) << pair.server.session.describe();
  EXPECT_EQ(pair.server.session.alert_sent(), SSL_AD_BAD_RECORD_MAC);
  EXPECT_FALSE(pair.server.out.bytes().empty());  // the alert, encrypted, ready to send
}

TEST(TlsBadInput, UnknownRecordTypeAfterTheHandshake) {
  Pair pair(tls_test::client_context(), ec_server());
  ASSERT_TRUE(pair.connect());
  const uint8_t record[] = {0x63, 0x03, 0x03, 0x00, 0x02, 0xab, 0xcd};
  EXPECT_EQ(feed(pair.server.session, record, pair.server.out).status, TlsStatus::Failed);
  EXPECT_EQ(pair.server.session.error(), TlsError::BadRecord) << pair.server.session.describe();
  EXPECT_EQ(pair.server.session.alert_sent(), SSL_AD_UNEXPECTED_MESSAGE);
}

TEST(TlsBadInput, DataAfterCloseNotifyIsIgnored) {
  Pair pair(tls_test::client_context(), ec_server());
  ASSERT_TRUE(pair.connect());
  ASSERT_TRUE(pair.client.session.close(pair.client.out));
  const uint8_t junk[] = {1, 2, 3};
  std::vector<uint8_t> bytes(pair.client.out.bytes().begin(), pair.client.out.bytes().end());
  bytes.insert(bytes.end(), junk, junk + 3);
  const Fed fed = feed(pair.server.session, bytes, pair.server.out);
  EXPECT_EQ(fed.status, TlsStatus::Closed);
  EXPECT_EQ(pair.server.session.buffered_ciphertext(), 0u);
  EXPECT_FALSE(pair.server.session.failed());
}

TEST(TlsBadInput, EndOfStreamInsideARecordFreesIt) {
  Pair pair(tls_test::client_context(), ec_server());
  ASSERT_TRUE(pair.connect());
  const std::vector<uint8_t> data(1000, 'y');
  ASSERT_TRUE(pair.client.session.encrypt(data, pair.client.out));
  const std::span<const uint8_t> record = pair.client.out.bytes();
  EXPECT_EQ(feed(pair.server.session, record.first(500), pair.server.out).status, TlsStatus::NeedInput);
  EXPECT_EQ(pair.server.session.buffered_ciphertext(), 500u);
  EXPECT_EQ(pair.server.session.end_of_input(), TlsError::EofWithoutCloseNotify);
  EXPECT_EQ(pair.server.session.buffered_ciphertext(), 0u);
}

// A sink with no buffers: the session fails with its own kind, it does not block or crash.
class DrySink final : public CiphertextSink {
 public:
  std::span<uint8_t> space() override { return {}; }
  void commit(size_t) override {}
};

TEST(TlsBadInput, SinkWithoutBuffersFailsTheSession) {
  TlsSession server = TlsSession::server(ec_server());
  const std::vector<uint8_t> hello = modern_client_hello();
  std::span<const uint8_t> input(hello);
  std::vector<uint8_t> plain(100);
  DrySink dry;
  EXPECT_EQ(server.read(input, plain, dry).status, TlsStatus::Failed);
  EXPECT_EQ(server.error(), TlsError::OutOfBuffers) << server.describe();
}

TEST(TlsBadInput, RenegotiationIsRefused) {
  TlsClientOptions options;
  options.max_version = TlsVersion::Tls12;  // TLS 1.3 has no renegotiation at all
  Pair pair(tls_test::client_context(options), ec_server());
  ASSERT_TRUE(pair.connect());
  SSL_clear_options(pair.client.session.native_handle(), SSL_OP_NO_RENEGOTIATION);  // a client that tries
  ASSERT_EQ(SSL_renegotiate(pair.client.session.native_handle()), 1);
  std::span<const uint8_t> none;
  std::vector<uint8_t> plain(100);
  pair.client.session.read(none, plain, pair.client.out);  // writes the new ClientHello
  ASSERT_FALSE(pair.client.out.bytes().empty());
  tls_test::deliver(pair.client, pair.server, pair.chunker);
  EXPECT_EQ(pair.server.session.alert_sent(), SSL_AD_NO_RENEGOTIATION);  // a warning: it goes on
  EXPECT_FALSE(pair.server.session.failed()) << pair.server.session.describe();
  const uint8_t byte = 'z';
  EXPECT_TRUE(pair.server.session.encrypt({&byte, 1}, pair.server.out));
}

}  // namespace
}  // namespace wsring::server
