#include "bench/load/tls_link.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "tests/unit/tls_test_support.hpp"

using namespace wsring;
using namespace wsring::load;

TEST(LoadTlsLink, CipherBufferGrowsKeepingItsBytesAndReleasesItsMemory) {
  CipherBuffer b;
  EXPECT_EQ(b.capacity(), 0u);
  std::string written;
  for (int i = 0; i < 200; ++i) {
    std::span<uint8_t> room = b.space();
    ASSERT_GE(room.size(), 1024u);
    const size_t n = 1 + (i * 37) % 1500;
    for (size_t k = 0; k < n; ++k) room[k] = uint8_t('a' + (written.size() + k) % 26);
    for (size_t k = 0; k < n; ++k) written += char('a' + (written.size()) % 26);
    b.commit(n);
  }
  ASSERT_EQ(b.size(), written.size());
  EXPECT_EQ(std::memcmp(b.data(), written.data(), written.size()), 0);
  b.clear();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_GE(b.capacity(), written.size());  // kept for the next flush
  b.release();
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.data(), nullptr);
}

TEST(LoadTlsLink, ContextErrorsNameTheCaFlag) {
  server::TlsContext ctx;
  std::string error;
  LoadTlsOptions o;
  o.ca_file = tls_test::pki().path("missing.pem");
  EXPECT_FALSE(make_load_tls_context(o, ctx, error));
  EXPECT_EQ(error.rfind("--ca: ", 0), 0u) << error;
  EXPECT_NE(error.find("missing.pem"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
  o.ca_file = tls_test::pki().ec_key;  // a PEM file, but no certificate in it
  EXPECT_FALSE(make_load_tls_context(o, ctx, error));
  EXPECT_EQ(error.rfind("--ca: ", 0), 0u) << error;
  o.ca_file = tls_test::pki().dir;  // a directory
  EXPECT_FALSE(make_load_tls_context(o, ctx, error));
  EXPECT_EQ(error.rfind("--ca: ", 0), 0u) << error;
  EXPECT_FALSE(ctx);
}

TEST(LoadTlsLink, ContextsForEveryValidCombination) {
  server::TlsContext ctx;
  std::string error;
  LoadTlsOptions o;
  EXPECT_TRUE(make_load_tls_context(o, ctx, error)) << error;  // the system store
  EXPECT_TRUE(ctx);
  o.ca_file = tls_test::pki().ca_cert;
  o.min_version = o.max_version = server::TlsVersion::Tls13;
  EXPECT_TRUE(make_load_tls_context(o, ctx, error)) << error;
  o = LoadTlsOptions();
  o.insecure = true;
  o.max_version = server::TlsVersion::Tls12;
  EXPECT_TRUE(make_load_tls_context(o, ctx, error)) << error;
  EXPECT_FALSE(ctx.is_server());
}

// The ticket survives the connection (reset), and only when resuming.
TEST(LoadTlsLink, ResetKeepsTheTicketOnlyWhenResuming) {
  server::TlsContext client_ctx = tls_test::client_context();
  server::TlsContext server_ctx = tls_test::server_context(tls_test::pki().ec_cert, tls_test::pki().ec_key);
  for (const bool keep : {true, false}) {
    TlsLink link;
    tls_test::Pair pair(client_ctx, server_ctx);
    ASSERT_TRUE(pair.connect());
    const uint8_t byte = 1;
    pair.server.session.encrypt({&byte, 1}, pair.server.out);
    pair.pump_all();  // the TLS 1.3 ticket arrives
    link.session = std::move(pair.client.session);
    link.pending.space();
    link.pending.commit(10);
    link.reset(keep);
    EXPECT_FALSE(link.session);
    EXPECT_EQ(link.pending.capacity(), 0u);
    EXPECT_EQ(bool(link.ticket), keep);
    if (!keep) continue;
    // A connection without a new ticket (it failed before one came) keeps the older one.
    const SSL_SESSION* before = link.ticket.native_handle();
    link.session = server::TlsSession::client(client_ctx, "localhost");
    link.reset(true);
    EXPECT_EQ(link.ticket.native_handle(), before);
  }
}
