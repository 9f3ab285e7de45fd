// TlsSession::client (OpenSSL all the way) against TlsSession::server taken over by the record
// layer after the handshake: whatever the sequence numbers, keys and record boundaries, the
// OpenSSL client must read every byte we write and we every byte it writes.
#include "server/tls_offload.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "server/tls_session.hpp"
#include "tests/unit/tls_test_support.hpp"

namespace wsring::server {
namespace {

using tls_test::pki;

const TlsContext& offload_server() {
  static const TlsContext context = tls_test::server_context(pki().ec_cert, pki().ec_key);
  return context;
}

const TlsContext& tls13_client() {
  static const TlsContext context = tls_test::client_context();
  return context;
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = uint8_t(seed + i * 31 + (i >> 8));
  return bytes;
}

// Sends `data` from one end to the other and checks it arrives whole.
void exchange(tls_test::Pair& pair, tls_test::Peer& from, tls_test::Peer& to, const std::vector<uint8_t>& data) {
  to.received.clear();
  ASSERT_TRUE(from.session.encrypt(data, from.out));
  pair.pump_all();
  ASSERT_EQ(to.received.size(), data.size());
  EXPECT_TRUE(to.received == data);
  EXPECT_FALSE(from.session.failed()) << from.session.describe();
  EXPECT_FALSE(to.session.failed()) << to.session.describe();
}

TEST(TlsOffload, ServerSessionIsTakenOverAfterTheHandshake) {
  tls_test::Pair pair(tls13_client(), offload_server());
  ASSERT_TRUE(pair.connect());
  EXPECT_TRUE(pair.server.session.offloaded());
  EXPECT_EQ(pair.server.session.native_handle(), nullptr);
  EXPECT_FALSE(pair.client.session.offloaded());
  EXPECT_STREQ(pair.server.session.version(), "TLSv1.3");
  EXPECT_STREQ(pair.server.session.cipher(), "TLS_AES_128_GCM_SHA256");  // the server's first choice
  EXPECT_EQ(pair.server.session.alpn(), "http/1.1");
  EXPECT_FALSE(pair.server.session.resumed());
  ASSERT_NE(pair.server.session.records(), nullptr);
  EXPECT_EQ(pair.server.session.records()->write_seq(), 1u);  // one session ticket went first
  EXPECT_EQ(pair.server.session.records()->read_seq(), 0u);
}

// Messages of every size both ways, cut into receives every way, through plaintext buffers
// smaller than a record (the record's plaintext is then handed out over several reads).
TEST(TlsOffload, DataOfEverySizeBothWays) {
  for (auto mode : {tls_test::Chunker::Whole, tls_test::Chunker::Random, tls_test::Chunker::OneByte}) {
    for (size_t plain_size : {size_t(65536), size_t(4096 + 16), size_t(100)}) {
      tls_test::Pair pair(tls13_client(), offload_server());
      pair.server.plain_size = plain_size;
      pair.chunker.mode = mode;
      ASSERT_TRUE(pair.connect());
      ASSERT_TRUE(pair.server.session.offloaded());
      std::vector<size_t> sizes = {0, 1, 32, 16383, 16384, 16385, 100000};
      if (mode != tls_test::Chunker::OneByte) sizes.push_back(1 << 20);
      for (size_t size : sizes) {
        SCOPED_TRACE("size " + std::to_string(size) + " plain " + std::to_string(plain_size) + " mode " +
                     std::to_string(int(mode)));
        exchange(pair, pair.client, pair.server, pattern(size, 1));
        exchange(pair, pair.server, pair.client, pattern(size, 2));
      }
      EXPECT_EQ(pair.server.session.buffered_ciphertext(), 0u);
    }
  }
}

TEST(TlsOffload, ClientFinishedAndFirstDataInOneReceive) {
  tls_test::Pair pair(tls13_client(), offload_server());
  pair.client.session.start(pair.client.out);
  tls_test::deliver(pair.client, pair.server, pair.chunker);  // ClientHello
  tls_test::deliver(pair.server, pair.client, pair.chunker);  // the server's flight; the client is done
  ASSERT_TRUE(pair.client.session.established());
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(pair.client.session.encrypt({reinterpret_cast<const uint8_t*>(request.data()), request.size()},
                                          pair.client.out));
  std::span<const uint8_t> input = pair.client.out.bytes();  // Finished + the request: one segment
  std::vector<uint8_t> plain(1000);
  const TlsReadResult r = pair.server.session.read(input, plain, pair.server.out);
  EXPECT_TRUE(r.handshake_done);
  EXPECT_TRUE(pair.server.session.offloaded());
  ASSERT_EQ(r.plaintext, request.size());
  EXPECT_EQ(std::string(plain.begin(), plain.begin() + r.plaintext), request);
  pair.client.out.clear();
  pair.pump_all();  // the ticket to the client
  exchange(pair, pair.server, pair.client, pattern(5000, 3));
}

// The engine defers a handshake step by holding its bytes (hold()): the client's Finished and
// the first records after it then come from the session's stash, split anywhere.
TEST(TlsOffload, HeldFinishedAndDataAreReadAfterTheHandOff) {
  for (size_t split : {size_t(1), size_t(20), size_t(60), size_t(100), size_t(200)}) {
    tls_test::Pair pair(tls13_client(), offload_server());
    pair.client.session.start(pair.client.out);
    tls_test::deliver(pair.client, pair.server, pair.chunker);
    tls_test::deliver(pair.server, pair.client, pair.chunker);
    const std::string request(3000, 'r');
    ASSERT_TRUE(pair.client.session.encrypt({reinterpret_cast<const uint8_t*>(request.data()), request.size()},
                                            pair.client.out));
    const std::vector<uint8_t> bytes(pair.client.out.bytes().begin(), pair.client.out.bytes().end());
    pair.client.out.clear();
    ASSERT_LT(split, bytes.size());
    ASSERT_TRUE(pair.server.session.hold(std::span<const uint8_t>(bytes).first(split)));
    std::span<const uint8_t> rest = std::span<const uint8_t>(bytes).subspan(split);
    std::vector<uint8_t> plain(100);  // smaller than the record: handed out over several reads
    std::string received;
    for (int i = 0; i < 1000; ++i) {
      const TlsReadResult r = pair.server.session.read(rest, plain, pair.server.out);
      received.append(plain.begin(), plain.begin() + r.plaintext);
      ASSERT_NE(r.status, TlsStatus::Failed) << pair.server.session.describe();
      if (r.status == TlsStatus::NeedInput) break;
    }
    EXPECT_TRUE(pair.server.session.offloaded()) << split;
    EXPECT_EQ(received, request) << split;
    EXPECT_EQ(pair.server.session.buffered_ciphertext(), 0u);
    pair.pump_all();
    exchange(pair, pair.server, pair.client, pattern(100, 3));
  }
}

// The server's write sequence starts after the session tickets OpenSSL wrote under the new
// key: 0, 1 (the default) or 3 tickets, the client must read what follows.
TEST(TlsOffload, WriteSequenceStartsAfterTheSessionTickets) {
  for (int tickets : {0, 1, 3}) {
    tls_test::Pair pair(tls13_client(), offload_server());
    ASSERT_EQ(SSL_set_num_tickets(pair.server.session.native_handle(), size_t(tickets)), 1);
    ASSERT_TRUE(pair.connect());
    ASSERT_TRUE(pair.server.session.offloaded());
    EXPECT_EQ(pair.server.session.records()->write_seq(), uint64_t(tickets)) << tickets;
    exchange(pair, pair.server, pair.client, pattern(300, 4));
    exchange(pair, pair.client, pair.server, pattern(300, 5));
  }
}

TEST(TlsOffload, ClientKeyUpdateWithAndWithoutARequest) {
  tls_test::Pair pair(tls13_client(), offload_server());
  ASSERT_TRUE(pair.connect());
  for (int type : {SSL_KEY_UPDATE_NOT_REQUESTED, SSL_KEY_UPDATE_REQUESTED, SSL_KEY_UPDATE_REQUESTED}) {
    ASSERT_EQ(SSL_key_update(pair.client.session.native_handle(), type), 1);
    const uint64_t server_write_seq = pair.server.session.records()->write_seq();
    exchange(pair, pair.client, pair.server, pattern(2000, 6));  // the KeyUpdate goes with this data
    EXPECT_EQ(pair.server.session.records()->read_seq(), 1u);    // new read key: data was record 0
    if (type == SSL_KEY_UPDATE_REQUESTED)
      EXPECT_EQ(pair.server.session.records()->write_seq(), 0u);  // we answered and changed ours
    else
      EXPECT_EQ(pair.server.session.records()->write_seq(), server_write_seq);
    exchange(pair, pair.server, pair.client, pattern(2000, 7));
  }
}

TEST(TlsOffload, CloseNotifyBothWays) {
  {
    tls_test::Pair pair(tls13_client(), offload_server());
    ASSERT_TRUE(pair.connect());
    ASSERT_TRUE(pair.server.session.close(pair.server.out));
    EXPECT_FALSE(pair.server.session.close(pair.server.out));  // once
    EXPECT_FALSE(pair.server.session.encrypt(pattern(10, 0), pair.server.out));
    pair.pump_all();
    EXPECT_EQ(pair.client.last, TlsStatus::Closed);
    EXPECT_EQ(pair.server.session.alert_sent(), tls_alert::kCloseNotify);
  }
  tls_test::Pair pair(tls13_client(), offload_server());
  ASSERT_TRUE(pair.connect());
  ASSERT_TRUE(pair.client.session.close(pair.client.out));
  pair.pump_all();
  EXPECT_EQ(pair.server.last, TlsStatus::Closed);
  EXPECT_TRUE(pair.server.session.close_notify_received());
  EXPECT_EQ(pair.server.session.end_of_input(), TlsError::None);
  std::span<const uint8_t> none;
  std::vector<uint8_t> plain(10);
  EXPECT_EQ(pair.server.session.read(none, plain, pair.server.out).status, TlsStatus::Closed);
}

TEST(TlsOffload, EndOfStreamWithoutCloseNotify) {
  tls_test::Pair pair(tls13_client(), offload_server());
  ASSERT_TRUE(pair.connect());
  EXPECT_EQ(pair.server.session.end_of_input(), TlsError::EofWithoutCloseNotify);
}

TEST(TlsOffload, TamperedRecordFailsWithBadRecordMacAndReleasesNothing) {
  tls_test::Pair pair(tls13_client(), offload_server());
  ASSERT_TRUE(pair.connect());
  ASSERT_TRUE(pair.client.session.encrypt(pattern(100, 8), pair.client.out));
  std::vector<uint8_t> record(pair.client.out.bytes().begin(), pair.client.out.bytes().end());
  pair.client.out.clear();
  record[30] ^= 0x01;
  std::span<const uint8_t> input(record);
  std::vector<uint8_t> plain(1000);
  const TlsReadResult r = pair.server.session.read(input, plain, pair.server.out);
  EXPECT_EQ(r.status, TlsStatus::Failed);
  EXPECT_EQ(r.plaintext, 0u);
  EXPECT_EQ(pair.server.session.error(), TlsError::BadRecord);
  EXPECT_EQ(pair.server.session.alert_sent(), tls_alert::kBadRecordMac);
  EXPECT_FALSE(pair.server.session.encrypt(pattern(10, 0), pair.server.out));
  pair.pump_all();  // the alert reaches the client, which reads it with the server's key
  EXPECT_EQ(pair.client.last, TlsStatus::Failed);
  EXPECT_EQ(pair.client.session.alert_received(), tls_alert::kBadRecordMac);
}

TEST(TlsOffload, FatalAlertFromTheClient) {
  tls_test::Pair pair(tls13_client(), offload_server());
  ASSERT_TRUE(pair.connect());
  // A client that gives up: OpenSSL seals the alert with its application key.
  SSL* client = pair.client.session.native_handle();
  ASSERT_EQ(SSL_key_update(client, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  exchange(pair, pair.client, pair.server, pattern(10, 9));
  std::vector<uint8_t> garbage = {23, 3, 3, 0, 40};
  garbage.resize(45, 0x55);
  std::span<const uint8_t> input(garbage);
  std::vector<uint8_t> plain(100);
  pair.client.session.read(input, plain, pair.client.out);  // the client refuses it: bad_record_mac
  ASSERT_TRUE(pair.client.session.failed());
  ASSERT_FALSE(pair.client.out.bytes().empty());
  pair.pump_all();
  EXPECT_EQ(pair.server.last, TlsStatus::Failed);
  EXPECT_EQ(pair.server.session.error(), TlsError::PeerAlert);
  EXPECT_EQ(pair.server.session.alert_received(), tls_alert::kBadRecordMac);
}

TEST(TlsOffload, Tls12StaysOnOpenSsl) {
  TlsClientOptions options;
  options.max_version = TlsVersion::Tls12;
  const TlsContext client = tls_test::client_context(options);
  tls_test::Pair pair(client, offload_server());
  ASSERT_TRUE(pair.connect());
  EXPECT_FALSE(pair.server.session.offloaded());
  EXPECT_STREQ(pair.server.session.version(), "TLSv1.2");
  exchange(pair, pair.client, pair.server, pattern(40000, 10));
  exchange(pair, pair.server, pair.client, pattern(40000, 11));
}

TEST(TlsOffload, OffTheSessionStaysOnOpenSsl) {
  const TlsContext server = tls_test::server_context(pki().ec_cert, pki().ec_key, nullptr, false);
  tls_test::Pair pair(tls13_client(), server);
  ASSERT_TRUE(pair.connect());
  EXPECT_FALSE(pair.server.session.offloaded());
  EXPECT_NE(pair.server.session.native_handle(), nullptr);
  exchange(pair, pair.client, pair.server, pattern(1000, 12));
}

TEST(TlsOffload, ResumedSessionsAreTakenOverToo) {
  const TlsContext server = tls_test::server_context(pki().ec_cert, pki().ec_key);
  TlsResumption ticket;
  {
    tls_test::Pair pair(tls13_client(), server);
    ASSERT_TRUE(pair.connect());
    exchange(pair, pair.server, pair.client, pattern(10, 13));  // the ticket arrives with it
    ticket = pair.client.session.resumption();
    ASSERT_TRUE(ticket);
  }
  tls_test::Pair pair(tls13_client(), server, "localhost", ticket);
  ASSERT_TRUE(pair.connect());
  EXPECT_TRUE(pair.server.session.resumed());
  EXPECT_TRUE(pair.server.session.offloaded());
  exchange(pair, pair.client, pair.server, pattern(20000, 14));
  exchange(pair, pair.server, pair.client, pattern(20000, 15));
}

TEST(TlsOffload, EveryCipherSuite) {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
    const TlsContext client = tls_test::client_context();
    ASSERT_EQ(SSL_CTX_set_ciphersuites(client.native_handle(), suite), 1);
    tls_test::Pair pair(client, offload_server());
    ASSERT_TRUE(pair.connect()) << suite;
    EXPECT_TRUE(pair.server.session.offloaded()) << suite;
    EXPECT_STREQ(pair.server.session.cipher(), suite);
    ASSERT_EQ(SSL_key_update(pair.client.session.native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
    exchange(pair, pair.client, pair.server, pattern(70000, 16));
    exchange(pair, pair.server, pair.client, pattern(70000, 17));
  }
}

// AES-128-CCM is a TLS 1.3 suite the record layer lacks: such a session stays on OpenSSL.
TEST(TlsOffload, ASuiteTheRecordLayerLacksStaysOnOpenSsl) {
  const TlsContext server = tls_test::server_context(pki().ec_cert, pki().ec_key);
  ASSERT_EQ(SSL_CTX_set_ciphersuites(server.native_handle(), "TLS_AES_128_CCM_SHA256"), 1);
  const TlsContext client = tls_test::client_context();
  ASSERT_EQ(SSL_CTX_set_ciphersuites(client.native_handle(), "TLS_AES_128_CCM_SHA256"), 1);
  tls_test::Pair pair(client, server);
  ASSERT_TRUE(pair.connect());
  EXPECT_FALSE(pair.server.session.offloaded());
  exchange(pair, pair.client, pair.server, pattern(1000, 18));
}

// The key log callback (whose every line OpenSSL formats, wanted or not) is set only while a
// session waits for an application secret: never between handshakes, and not while sessions
// whose steps interleave on one context are between their Finished messages either.
TEST(TlsOffload, KeyLogIsSetOnlyWhileASessionWaitsForASecret) {
  const TlsContext server = tls_test::server_context(pki().ec_cert, pki().ec_key);
  SSL_CTX* ctx = server.native_handle();
  EXPECT_EQ(SSL_CTX_get_keylog_callback(ctx), nullptr);
  std::vector<std::unique_ptr<tls_test::Pair>> pairs;
  for (int i = 0; i < 6; ++i) {
    pairs.push_back(std::make_unique<tls_test::Pair>(tls13_client(), server));
    pairs.back()->client.session.start(pairs.back()->client.out);
  }
  for (int flight = 0; flight < 4; ++flight) {  // ClientHello, server's flight, Finished, ticket
    for (auto& pair : pairs) {
      tls_test::deliver(pair->client, pair->server, pair->chunker);
      EXPECT_EQ(SSL_CTX_get_keylog_callback(ctx), nullptr) << "flight " << flight;
      tls_test::deliver(pair->server, pair->client, pair->chunker);
    }
  }
  for (auto& pair : pairs) {
    ASSERT_TRUE(pair->server.session.established());
    EXPECT_TRUE(pair->server.session.offloaded());
    exchange(*pair, pair->client, pair->server, pattern(3000, 20));
    exchange(*pair, pair->server, pair->client, pattern(3000, 21));
  }
  EXPECT_EQ(SSL_CTX_get_keylog_callback(ctx), nullptr);
}

// The server's flight (its Finished last) leaves the callback unset: the secret it waited for
// came in the same step. A session freed then, halfway, leaves nothing behind either.
TEST(TlsOffload, KeyLogIsUnsetAfterTheServersFlight) {
  const TlsContext server = tls_test::server_context(pki().ec_cert, pki().ec_key);
  {
    tls_test::Pair halfway(tls13_client(), server);
    halfway.client.session.start(halfway.client.out);
    tls_test::deliver(halfway.client, halfway.server, halfway.chunker);
    ASSERT_FALSE(halfway.server.out.bytes().empty());  // the server's flight, its Finished in it
    EXPECT_EQ(SSL_CTX_get_keylog_callback(server.native_handle()), nullptr);
  }
  EXPECT_EQ(SSL_CTX_get_keylog_callback(server.native_handle()), nullptr);
  tls_test::Pair pair(tls13_client(), server);
  ASSERT_TRUE(pair.connect());
  EXPECT_TRUE(pair.server.session.offloaded());
}

TEST(TlsOffload, SessionsStayMovableAfterTheHandOff) {
  tls_test::Pair pair(tls13_client(), offload_server());
  ASSERT_TRUE(pair.connect());
  TlsSession moved = std::move(pair.server.session);
  EXPECT_FALSE(pair.server.session);
  EXPECT_TRUE(moved.offloaded());
  pair.server.session = std::move(moved);
  exchange(pair, pair.client, pair.server, pattern(100, 19));
}

}  // namespace
}  // namespace wsring::server
