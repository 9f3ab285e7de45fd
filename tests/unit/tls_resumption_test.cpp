// Session resumption with stateless tickets: a client keeps the last ticket and resumes with
// it; servers resume each other's tickets exactly when they share a ticket key.
#include "server/tls_session.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "tests/unit/tls_test_support.hpp"

namespace wsring::server {
namespace {

using tls_test::Pair;
using tls_test::pki;

std::shared_ptr<const TicketKeys> keys_from_file(const std::string& name, const std::string& bytes) {
  const std::string path = pki().path(name);
  tls_test::write_file(path, bytes);
  std::string error;
  auto keys = TicketKeys::load(path, &error);
  tls_test::require(keys != nullptr, error.c_str());
  return keys;
}

std::string key_bytes(char fill) { return std::string(TicketKeys::kKeySize, fill); }

TlsContext server_with(std::shared_ptr<const TicketKeys> keys) {
  return tls_test::server_context(pki().ec_cert, pki().ec_key, std::move(keys));
}

TlsContext client_for(TlsVersion version) {
  TlsClientOptions options;
  options.min_version = options.max_version = version;
  return tls_test::client_context(options);
}

// A full handshake, then the ticket it left (after the data exchange, when TLS 1.3's ticket
// has surely arrived).
TlsResumption first_connection(const TlsContext& client_ctx, const TlsContext& server_ctx) {
  Pair pair(client_ctx, server_ctx);
  tls_test::require(pair.connect(), "first handshake");
  tls_test::require(!pair.client.session.resumed(), "first handshake resumed");
  const uint8_t byte = 1;
  pair.server.session.encrypt({&byte, 1}, pair.server.out);
  pair.pump_all();
  return pair.client.session.resumption();
}

// Connects with the ticket; returns whether both ends report a resumed handshake.
bool resumes(const TlsContext& client_ctx, const TlsContext& server_ctx, const TlsResumption& ticket) {
  Pair pair(client_ctx, server_ctx, "localhost", ticket);
  pair.chunker.mode = tls_test::Chunker::Random;
  tls_test::require(pair.connect(), "second handshake");
  EXPECT_EQ(pair.client.session.resumed(), pair.server.session.resumed());
  EXPECT_EQ(pair.server.session.alpn(), "http/1.1");
  return pair.server.session.resumed();
}

class TlsResumptionByVersion : public testing::TestWithParam<TlsVersion> {};

TEST_P(TlsResumptionByVersion, SecondHandshakeIsResumed) {
  TlsContext client_ctx = client_for(GetParam());
  TlsContext server_ctx = server_with(nullptr);  // a random key for this context
  TlsResumption ticket = first_connection(client_ctx, server_ctx);
  ASSERT_TRUE(ticket);
  EXPECT_TRUE(resumes(client_ctx, server_ctx, ticket));
  // No 0-RTT: the ticket does not allow early data.
  EXPECT_EQ(SSL_SESSION_get_max_early_data(ticket.native_handle()), 0u);
}

TEST_P(TlsResumptionByVersion, ResumedAcrossContextsSharingOneKeyFile) {
  TlsContext client_ctx = client_for(GetParam());
  auto shared = keys_from_file("shared.key", key_bytes('s'));
  auto same_file_again = keys_from_file("shared.key", key_bytes('s'));  // another thread, or process
  TlsResumption ticket = first_connection(client_ctx, server_with(shared));
  EXPECT_TRUE(resumes(client_ctx, server_with(same_file_again), ticket));
}

TEST_P(TlsResumptionByVersion, NotResumedUnderAnotherKey) {
  TlsContext client_ctx = client_for(GetParam());
  TlsResumption ticket = first_connection(client_ctx, server_with(keys_from_file("a.key", key_bytes('a'))));
  EXPECT_FALSE(resumes(client_ctx, server_with(keys_from_file("b.key", key_bytes('b'))), ticket));
  // Random keys: each context its own.
  TlsResumption random_ticket = first_connection(client_ctx, server_with(nullptr));
  EXPECT_FALSE(resumes(client_ctx, server_with(nullptr), random_ticket));
}

// Rotation: a new key in front, the old one behind it; old tickets still resume, and the
// client gets a fresh ticket under the new key.
TEST_P(TlsResumptionByVersion, RotatedKeyStillOpensOldTickets) {
  TlsContext client_ctx = client_for(GetParam());
  TlsContext old_server = server_with(keys_from_file("old.key", key_bytes('o')));
  TlsContext rotated = server_with(keys_from_file("rotated.key", key_bytes('n') + key_bytes('o')));
  TlsContext new_only = server_with(keys_from_file("new.key", key_bytes('n')));
  TlsResumption old_ticket = first_connection(client_ctx, old_server);
  Pair pair(client_ctx, rotated, "localhost", old_ticket);
  ASSERT_TRUE(pair.connect());
  EXPECT_TRUE(pair.server.session.resumed());
  const uint8_t byte = 1;
  pair.server.session.encrypt({&byte, 1}, pair.server.out);
  pair.pump_all();
  TlsResumption renewed = pair.client.session.resumption();
  ASSERT_TRUE(renewed);
  EXPECT_TRUE(resumes(client_ctx, new_only, renewed));
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsResumptionByVersion, testing::Values(TlsVersion::Tls12, TlsVersion::Tls13));

// SIGHUP: the ticket key file is read again with the certificate and key. A new key file is
// taken (tickets under the new key resume); a bad one refuses the whole reload and the old
// keys stay (old tickets still resume).
TEST(TlsResumption, ReloadReadsTheTicketKeyFileAgain) {
  const TlsContext client_ctx = client_for(TlsVersion::Tls13);
  const std::string path = pki().path("reloaded.key");
  tls_test::write_file(path, key_bytes('1'));
  std::string error;
  TlsServerOptions options{pki().ec_cert, pki().ec_key, TicketKeys::load(path, &error), path};
  ASSERT_TRUE(options.ticket_keys) << error;
  TlsContext current = tls_test::server_context(options.certificate_file, options.key_file, options.ticket_keys);
  const TlsResumption first_key_ticket = first_connection(client_ctx, current);

  tls_test::write_file(path, key_bytes('1').substr(0, 79));  // not a whole key
  EXPECT_FALSE(TlsContext::reload_server(&current, &options, &error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_TRUE(resumes(client_ctx, current, first_key_ticket)) << "the old keys stay after a refused reload";

  tls_test::write_file(path, key_bytes('2'));
  ASSERT_TRUE(TlsContext::reload_server(&current, &options, &error)) << error;
  EXPECT_FALSE(resumes(client_ctx, current, first_key_ticket)) << "the file's new key replaced the old one";
  EXPECT_TRUE(resumes(client_ctx, current, first_connection(client_ctx, current)));
  EXPECT_TRUE(resumes(client_ctx, server_with(keys_from_file("second.key", key_bytes('2'))),
                      first_connection(client_ctx, current)))
      << "tickets are sealed with the key from the file";
}

TEST(TlsResumption, NotResumableBeforeAHandshake) {
  TlsSession client = TlsSession::client(tls_test::client_context(), "localhost");
  EXPECT_FALSE(client.resumption());
}

}  // namespace
}  // namespace wsring::server
