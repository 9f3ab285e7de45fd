#include "server/tls_session.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <numeric>

#include "tests/unit/tls_test_support.hpp"

namespace wsring::server {
namespace {

using tls_test::Chunker;
using tls_test::Pair;
using tls_test::pki;

TlsContext ec_server() { return tls_test::server_context(pki().ec_cert, pki().ec_key); }

TlsContext client_with(TlsVersion min_version, TlsVersion max_version) {
  TlsClientOptions options;
  options.min_version = min_version;
  options.max_version = max_version;
  return tls_test::client_context(options);
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = uint8_t(i * 31 + seed + (i >> 13));
  return bytes;
}

struct HandshakeCase {
  TlsVersion version;
  bool rsa;
  Chunker::Mode chunking;
};

class TlsHandshake : public testing::TestWithParam<HandshakeCase> {};

TEST_P(TlsHandshake, CompletesWithHttp11AndCarriesDataBothWays) {
  const HandshakeCase& c = GetParam();
  TlsContext server_ctx = c.rsa ? tls_test::server_context(pki().rsa_cert, pki().rsa_key) : ec_server();
  Pair pair(client_with(c.version, c.version), server_ctx);
  pair.chunker.mode = c.chunking;
  ASSERT_TRUE(pair.connect()) << pair.client.session.describe() << " / " << pair.server.session.describe();
  EXPECT_EQ(pair.client.handshakes_done, 1);
  EXPECT_EQ(pair.server.handshakes_done, 1);
  EXPECT_STREQ(pair.server.session.version(), c.version == TlsVersion::Tls13 ? "TLSv1.3" : "TLSv1.2");
  EXPECT_EQ(pair.server.session.alpn(), "http/1.1");
  EXPECT_EQ(pair.client.session.alpn(), "http/1.1");
  EXPECT_FALSE(pair.client.session.resumed());

  const std::vector<uint8_t> up = pattern(70000, 1), down = pattern(50000, 2);
  ASSERT_TRUE(pair.client.session.encrypt(up, pair.client.out));
  ASSERT_TRUE(pair.server.session.encrypt(down, pair.server.out));
  pair.pump_all();
  EXPECT_EQ(pair.server.received, up);
  EXPECT_EQ(pair.client.received, down);
  EXPECT_EQ(pair.server.session.buffered_ciphertext(), 0u);
  EXPECT_EQ(pair.client.session.buffered_ciphertext(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    All, TlsHandshake,
    testing::Values(HandshakeCase{TlsVersion::Tls13, false, Chunker::Whole},
                    HandshakeCase{TlsVersion::Tls13, false, Chunker::OneByte},
                    HandshakeCase{TlsVersion::Tls13, false, Chunker::Random},
                    HandshakeCase{TlsVersion::Tls13, true, Chunker::Random},
                    HandshakeCase{TlsVersion::Tls12, false, Chunker::Whole},
                    HandshakeCase{TlsVersion::Tls12, false, Chunker::OneByte},
                    HandshakeCase{TlsVersion::Tls12, true, Chunker::Random}));

// A TLS 1.3 client sends its Finished and its first request together: one receive completes
// the handshake and yields the plaintext.
TEST(TlsSession, ClientFinishedAndFirstDataInOneReceive) {
  Pair pair(tls_test::client_context(), ec_server());
  pair.client.session.start(pair.client.out);
  tls_test::deliver(pair.client, pair.server, pair.chunker);  // ClientHello
  tls_test::deliver(pair.server, pair.client, pair.chunker);  // ServerHello ... Finished
  ASSERT_TRUE(pair.client.session.established());
  const std::vector<uint8_t> request = pattern(300, 4);
  ASSERT_TRUE(pair.client.session.encrypt(request, pair.client.out));  // after the client's Finished
  std::span<const uint8_t> input = pair.client.out.bytes();
  std::vector<uint8_t> plain(1000);
  const TlsReadResult r = pair.server.session.read(input, plain, pair.server.out);
  EXPECT_TRUE(r.handshake_done);
  EXPECT_EQ(r.status, TlsStatus::NeedInput);
  ASSERT_EQ(r.plaintext, request.size());
  EXPECT_TRUE(std::equal(request.begin(), request.end(), plain.begin()));
  EXPECT_FALSE(pair.server.out.bytes().empty());  // the session ticket, in the same call
}

TEST(TlsSession, ServerSendsItsChainAndTheClientVerifiesIt) {
  Pair pair(tls_test::client_context(), tls_test::server_context(pki().chain_cert, pki().chain_key));
  ASSERT_TRUE(pair.connect()) << pair.client.session.describe();
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(pair.client.session.native_handle());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 2);  // leaf + intermediate
}

TEST(TlsSession, VerifiesAnIpAddressAndTheIpv6Literal) {
  for (const char* host : {"127.0.0.1", "::1", "[::1]"}) {
    Pair pair(tls_test::client_context(), ec_server(), host);
    EXPECT_TRUE(pair.connect()) << host << ": " << pair.client.session.describe();
  }
}

// Data sizes from empty to 16 MiB, through a small plaintext buffer so PlainFull is exercised.
TEST(TlsSession, DataOfEverySizeBothWays) {
  Pair pair(tls_test::client_context(), ec_server());
  pair.chunker.mode = Chunker::Random;
  pair.server.plain_size = 4096 + 16;
  ASSERT_TRUE(pair.connect());
  for (size_t size : {size_t(0), size_t(1), size_t(15), size_t(16383), size_t(16384), size_t(16385),
                      size_t(100000), size_t(16) << 20}) {
    const std::vector<uint8_t> up = pattern(size, uint8_t(size)), down = pattern(size / 2 + 3, 9);
    pair.server.received.clear();
    pair.client.received.clear();
    ASSERT_TRUE(pair.client.session.encrypt(up, pair.client.out));
    ASSERT_TRUE(pair.server.session.encrypt(down, pair.server.out));
    pair.pump_all();
    ASSERT_EQ(pair.server.received.size(), up.size());
    EXPECT_TRUE(pair.server.received == up) << size;
    EXPECT_TRUE(pair.client.received == down) << size;
  }
}

// Counts the records in a ciphertext stream (each record: 5-byte header + body).
size_t count_records(std::span<const uint8_t> bytes) {
  size_t records = 0;
  for (size_t pos = 0; pos + 5 <= bytes.size(); ++records) pos += 5 + (size_t(bytes[pos + 3]) << 8 | bytes[pos + 4]);
  return records;
}

TEST(TlsSession, SmallPiecesAreCoalescedIntoFullRecords) {
  Pair pair(tls_test::client_context(), ec_server());
  ASSERT_TRUE(pair.connect());
  pair.pump_all();
  pair.client.out.clear();
  pair.server.out.clear();
  // 1000 echo-sized pieces (2-byte header + 32-byte payload each): 34,000 bytes.
  std::vector<uint8_t> store(34000);
  std::iota(store.begin(), store.end(), uint8_t(0));
  std::vector<iovec> pieces;
  for (size_t i = 0; i < store.size(); i += 34) {
    pieces.push_back({store.data() + i, 2});
    pieces.push_back({store.data() + i + 2, 32});
  }
  ASSERT_TRUE(pair.server.session.encrypt(pieces, pair.server.out));
  EXPECT_EQ(count_records(pair.server.out.bytes()), 3u);  // 16384 + 16384 + 1232
  // A large piece after a small one: the small one is topped up to a full record, then whole
  // records come straight from the large piece.
  pair.pump_all();
  EXPECT_EQ(pair.client.received, store);
  std::vector<uint8_t> big = pattern(3 * 16384 + 100, 5);
  std::vector<iovec> mixed{{store.data(), 10}, {big.data(), big.size()}};
  ASSERT_TRUE(pair.server.session.encrypt(mixed, pair.server.out));
  EXPECT_EQ(count_records(pair.server.out.bytes()), 4u);
  pair.client.received.clear();
  pair.pump_all();
  std::vector<uint8_t> expected(store.begin(), store.begin() + 10);
  expected.insert(expected.end(), big.begin(), big.end());
  EXPECT_EQ(pair.client.received, expected);
}

TEST(TlsSession, EncryptRefusesBeforeTheHandshakeAndAfterClose) {
  Pair pair(tls_test::client_context(), ec_server());
  const uint8_t byte = 1;
  EXPECT_FALSE(pair.server.session.encrypt({&byte, 1}, pair.server.out));
  EXPECT_FALSE(pair.server.session.close(pair.server.out));
  ASSERT_TRUE(pair.connect());
  EXPECT_TRUE(pair.server.session.close(pair.server.out));
  EXPECT_FALSE(pair.server.session.close(pair.server.out));  // once
  EXPECT_FALSE(pair.server.session.encrypt({&byte, 1}, pair.server.out));
}

TEST(TlsSession, CloseNotifyBothWays) {
  Pair pair(tls_test::client_context(), ec_server());
  pair.chunker.mode = Chunker::OneByte;
  ASSERT_TRUE(pair.connect());
  const std::vector<uint8_t> last = pattern(1000, 3);
  ASSERT_TRUE(pair.server.session.encrypt(last, pair.server.out));
  ASSERT_TRUE(pair.server.session.close(pair.server.out));
  pair.pump_all();
  EXPECT_EQ(pair.client.received, last);  // data before close_notify is delivered
  EXPECT_EQ(pair.client.last, TlsStatus::Closed);
  EXPECT_TRUE(pair.client.session.close_notify_received());
  EXPECT_EQ(pair.client.session.end_of_input(), TlsError::None);
  EXPECT_TRUE(pair.client.session.close(pair.client.out));  // answer it
  pair.pump_all();
  EXPECT_EQ(pair.server.last, TlsStatus::Closed);
  EXPECT_FALSE(pair.server.session.failed());
}

TEST(TlsSession, EndOfStreamWithoutCloseNotify) {
  Pair pair(tls_test::client_context(), ec_server());
  ASSERT_TRUE(pair.connect());
  EXPECT_EQ(pair.server.session.end_of_input(), TlsError::EofWithoutCloseNotify);
  EXPECT_EQ(pair.server.session.error(), TlsError::EofWithoutCloseNotify);
  std::vector<uint8_t> plain(100);
  std::span<const uint8_t> none;
  EXPECT_EQ(pair.server.session.read(none, plain, pair.server.out).status, TlsStatus::Failed);
}

TEST(TlsSession, PeerStoppingMidHandshake) {
  Pair pair(tls_test::client_context(), ec_server());
  pair.client.session.start(pair.client.out);
  tls_test::deliver(pair.client, pair.server, pair.chunker);  // ClientHello only
  EXPECT_EQ(pair.server.last, TlsStatus::NeedInput);
  EXPECT_FALSE(pair.server.session.established());
  EXPECT_EQ(pair.server.session.end_of_input(), TlsError::EofInHandshake);
  EXPECT_EQ(pair.client.session.end_of_input(), TlsError::EofInHandshake);
}

// A client whose ALPN list lacks http/1.1 (h2 only) gets no_application_protocol.
TEST(TlsSession, AlpnWithoutHttp11IsRefused) {
  TlsContext client_ctx = tls_test::client_context();
  static const unsigned char kH2[] = {2, 'h', '2'};
  ASSERT_EQ(SSL_CTX_set_alpn_protos(client_ctx.native_handle(), kH2, sizeof kH2), 0);
  Pair pair(client_ctx, ec_server());
  EXPECT_FALSE(pair.connect());
  EXPECT_EQ(pair.server.session.error(), TlsError::HandshakeFailed) << pair.server.session.describe();
  EXPECT_EQ(pair.server.session.alert_sent(), SSL_AD_NO_APPLICATION_PROTOCOL);
  EXPECT_EQ(pair.client.session.error(), TlsError::PeerAlert);
  EXPECT_EQ(pair.client.session.alert_received(), SSL_AD_NO_APPLICATION_PROTOCOL);
}

TEST(TlsSession, NoAlpnOfferedIsServedWithoutAlpn) {
  TlsContext client_ctx = tls_test::client_context();
  ASSERT_EQ(SSL_CTX_set_alpn_protos(client_ctx.native_handle(), nullptr, 0), 0);
  Pair pair(client_ctx, ec_server());
  ASSERT_TRUE(pair.connect());
  EXPECT_EQ(pair.server.session.alpn(), "");
}

struct VerifyCase {
  const char* name;
  std::string TlsTestPkiCert;
  const char* host;
  int expected_verify_error;
};

TEST(TlsSession, ClientRefusesBadCertificates) {
  const VerifyCase cases[] = {
      {"expired", pki().expired_cert, "localhost", X509_V_ERR_CERT_HAS_EXPIRED},
      {"wrong host", pki().wrong_host_cert, "localhost", X509_V_ERR_HOSTNAME_MISMATCH},
      {"unknown CA", pki().unknown_ca_cert, "localhost", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"IP not in the certificate", pki().ec_cert, "127.0.0.2", X509_V_ERR_IP_ADDRESS_MISMATCH},
  };
  for (const VerifyCase& c : cases) {
    Pair pair(tls_test::client_context(), tls_test::server_context(c.TlsTestPkiCert, pki().ec_key), c.host);
    EXPECT_FALSE(pair.connect()) << c.name;
    EXPECT_EQ(pair.client.session.error(), TlsError::CertificateVerify) << c.name;
    EXPECT_EQ(SSL_get_verify_result(pair.client.session.native_handle()), c.expected_verify_error) << c.name;
    EXPECT_NE(pair.client.session.describe().find(X509_verify_cert_error_string(c.expected_verify_error)),
              std::string::npos)
        << pair.client.session.describe();
    // The client told the server why, and the server counts it as the peer's alert.
    EXPECT_EQ(pair.server.session.error(), TlsError::PeerAlert) << c.name;
    EXPECT_NE(pair.server.session.alert_received(), TlsSession::kNoAlert) << c.name;
  }
}

TEST(TlsSession, InsecureClientAcceptsAnything) {
  TlsClientOptions options;
  options.insecure = true;
  Pair pair(tls_test::client_context(options), tls_test::server_context(pki().expired_cert, pki().ec_key),
            "somewhere.else");
  EXPECT_TRUE(pair.connect()) << pair.client.session.describe();
}

TEST(TlsSession, VersionSelection) {
  {  // client 1.2 only
    Pair pair(client_with(TlsVersion::Tls12, TlsVersion::Tls12), ec_server());
    ASSERT_TRUE(pair.connect());
    EXPECT_STREQ(pair.client.session.version(), "TLSv1.2");
  }
  {  // a server limited to 1.2 refuses a 1.3-only client with protocol_version
    TlsContext server_ctx = ec_server();
    SSL_CTX_set_max_proto_version(server_ctx.native_handle(), TLS1_2_VERSION);
    Pair pair(client_with(TlsVersion::Tls13, TlsVersion::Tls13), server_ctx);
    EXPECT_FALSE(pair.connect());
    EXPECT_EQ(pair.server.session.error(), TlsError::ProtocolVersion) << pair.server.session.describe();
    EXPECT_EQ(pair.server.session.alert_sent(), SSL_AD_PROTOCOL_VERSION);
    EXPECT_EQ(pair.client.session.error(), TlsError::ProtocolVersion) << pair.client.session.describe();
  }
}

// TLS 1.3 KeyUpdate asking for an update in return: the server answers it (through `out`) and
// both directions go on under the new keys.
TEST(TlsSession, KeyUpdateRequestedByTheClient) {
  Pair pair(tls_test::client_context(), ec_server());
  pair.chunker.mode = Chunker::Random;
  ASSERT_TRUE(pair.connect());
  ASSERT_EQ(SSL_key_update(pair.client.session.native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
  const std::vector<uint8_t> up = pattern(40000, 5), down = pattern(30000, 6);
  ASSERT_TRUE(pair.client.session.encrypt(up, pair.client.out));  // KeyUpdate goes first
  pair.pump_all();
  ASSERT_TRUE(pair.server.session.encrypt(down, pair.server.out));
  pair.pump_all();
  EXPECT_EQ(pair.server.received, up);
  EXPECT_EQ(pair.client.received, down);
  EXPECT_FALSE(pair.server.session.failed()) << pair.server.session.describe();
  EXPECT_FALSE(pair.client.session.failed()) << pair.client.session.describe();
}

TEST(TlsSession, SessionsAreMovable) {
  Pair pair(tls_test::client_context(), ec_server());
  ASSERT_TRUE(pair.connect());
  TlsSession moved = std::move(pair.server.session);
  EXPECT_FALSE(pair.server.session);
  pair.server.session = std::move(moved);
  const std::vector<uint8_t> data = pattern(5000, 7);
  ASSERT_TRUE(pair.client.session.encrypt(data, pair.client.out));
  pair.pump_all();
  EXPECT_EQ(pair.server.received, data);
}

}  // namespace
}  // namespace wsring::server
