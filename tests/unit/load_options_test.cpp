#include "bench/load/options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/load_options_test_support.hpp"

using namespace wsring::load;
using namespace wsring::load::options_test;
using wsring::net::Backend;

TEST(LoadOptions, Defaults) {
  Parsed p = parse_ok({});
  const LoadOptions& o = p.options;
  EXPECT_EQ(o.url.host_header, "127.0.0.1:9001");
  EXPECT_EQ(o.url.address, "127.0.0.1:9001");
  EXPECT_EQ(o.url.path, "/echo");
  EXPECT_EQ(o.connections, 100u);
  EXPECT_EQ(o.duration_s, 10.0);
  EXPECT_EQ(o.messages, 0u);
  EXPECT_EQ(o.size_min, 32u);
  EXPECT_EQ(o.size_max, 32u);
  EXPECT_FALSE(o.text);
  EXPECT_EQ(o.pipeline, 1u);
  EXPECT_EQ(o.rate, 0.0);
  EXPECT_EQ(o.ramp_up_s, 0.0);
  EXPECT_EQ(o.threads, 1u);
  EXPECT_EQ(o.connect_rate, 0.0);
  EXPECT_FALSE(o.handshake_only);
  EXPECT_TRUE(o.json_path.empty());
  EXPECT_TRUE(o.source_addresses.empty());
  EXPECT_EQ(o.backend, Backend::Auto);
}

TEST(LoadOptions, EveryFlagIsApplied) {
  Parsed p = parse_ok({"--connections", "1000", "--duration", "2.5", "--size", "1K-64K", "--text", "--pipeline", "16",
                       "--rate", "5000.5", "--ramp-up", "3", "--threads", "4", "--connect-rate", "200", "--json",
                       "/tmp/out.json", "--source-addrs", "127.0.0.1-127.0.0.3", "--backend", "epoll"});
  const LoadOptions& o = p.options;
  EXPECT_EQ(o.connections, 1000u);
  EXPECT_EQ(o.duration_s, 2.5);
  EXPECT_EQ(o.size_min, 1024u);
  EXPECT_EQ(o.size_max, 65536u);
  EXPECT_TRUE(o.text);
  EXPECT_EQ(o.pipeline, 16u);
  EXPECT_EQ(o.rate, 5000.5);
  EXPECT_EQ(o.ramp_up_s, 3.0);
  EXPECT_EQ(o.threads, 4u);
  EXPECT_EQ(o.connect_rate, 200.0);
  EXPECT_EQ(o.json_path, "/tmp/out.json");
  EXPECT_EQ(o.source_addresses, (std::vector<std::string>{"127.0.0.1", "127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(o.backend, Backend::Epoll);
}

TEST(LoadOptions, MessagesBinaryHandshakeOnlyAndEqualsForm) {
  Parsed p = parse_ok({"--messages=5000", "--binary", "--size=1M", "--backend=io_uring"});
  EXPECT_EQ(p.options.messages, 5000u);
  EXPECT_EQ(p.options.duration_s, 0.0);
  EXPECT_FALSE(p.options.text);
  EXPECT_EQ(p.options.size_min, 1u << 20);
  EXPECT_EQ(p.options.size_max, 1u << 20);
  EXPECT_EQ(p.options.backend, Backend::IoUring);
  Parsed h = parse_ok({"--handshake-only", "--backend", "auto"});
  EXPECT_TRUE(h.options.handshake_only);
  EXPECT_EQ(h.options.backend, Backend::Auto);
}

TEST(LoadOptions, HandshakeTimeout) {
  EXPECT_EQ(parse_ok({}).options.handshake_timeout_s, 10.0);
  EXPECT_EQ(parse_ok({"--handshake-timeout", "2.5"}).options.handshake_timeout_s, 2.5);
  EXPECT_EQ(parse_ok({"--handshake-timeout=0.2"}).options.handshake_timeout_s, 0.2);
  for (const char* v : {"0", "-1", "soon", "inf", "1e7", ""}) expect_bad({"--handshake-timeout", v}, "--handshake-timeout");
  expect_bad({"--handshake-timeout"}, "--handshake-timeout");
  EXPECT_NE(parse({"--help"}).message.find("--handshake-timeout"), std::string::npos);
}

TEST(LoadOptions, ThreadsAreCappedAtConnections) {
  Parsed p = parse_ok({"--connections", "2", "--threads", "8"});
  EXPECT_EQ(p.options.threads, 2u);
}

TEST(LoadOptions, SourceAddressLists) {
  EXPECT_EQ(parse_ok({"--source-addrs", "127.0.0.5"}).options.source_addresses, std::vector<std::string>{"127.0.0.5"});
  EXPECT_EQ(parse_ok({"--source-addrs", "127.0.0.1,127.0.0.9"}).options.source_addresses,
            (std::vector<std::string>{"127.0.0.1", "127.0.0.9"}));
  // A range across an octet boundary.
  std::vector<std::string> a = parse_ok({"--source-addrs", "10.0.0.255-10.0.1.1"}).options.source_addresses;
  EXPECT_EQ(a, (std::vector<std::string>{"10.0.0.255", "10.0.1.0", "10.0.1.1"}));
}

TEST(LoadOptions, UrlForms) {
  WsUrl u;
  std::string error;
  ASSERT_TRUE(parse_ws_url("ws://localhost:8080", u, &error)) << error;
  EXPECT_EQ(u.path, "/");
  EXPECT_EQ(u.address, "127.0.0.1:8080");
  EXPECT_EQ(u.host_header, "localhost:8080");
  ASSERT_TRUE(parse_ws_url("ws://127.0.0.1/a/b?x=1", u, &error)) << error;
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.path, "/a/b?x=1");
  ASSERT_TRUE(parse_ws_url("ws://[::1]:9001/", u, &error)) << error;
  EXPECT_EQ(u.address, "[::1]:9001");
  EXPECT_EQ(u.host_header, "[::1]:9001");
  EXPECT_FALSE(u.tls);
  for (const char* bad : {"http://127.0.0.1/", "https://127.0.0.1/", "wss:/127.0.0.1/", "ws://", "wss://", "ws://:80/",
                          "wss://127.0.0.1:0/", "wss://example.com/", "ws://127.0.0.1:/",
                          "ws://127.0.0.1:0/", "ws://127.0.0.1:70000/", "ws://example.com/", "ws://[::1/",
                          "ws://127.0.0.1/a b", "ws://user@127.0.0.1/", "ws://127.0.0.1/#frag", "ws://[zz]:1/"}) {
    EXPECT_FALSE(parse_ws_url(bad, u, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(LoadOptions, SecureUrls) {
  WsUrl u;
  std::string error;
  ASSERT_TRUE(parse_ws_url("wss://localhost/echo", u, &error)) << error;
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.port, 443);  // the default port of wss://
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.address, "127.0.0.1:443");
  EXPECT_EQ(u.host_header, "localhost:443");
  EXPECT_EQ(u.path, "/echo");
  ASSERT_TRUE(parse_ws_url("wss://[::1]:9443", u, &error)) << error;
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "[::1]");
  EXPECT_EQ(u.address, "[::1]:9443");
  ASSERT_TRUE(parse_ws_url("ws://127.0.0.1", u, &error)) << error;
  EXPECT_FALSE(u.tls);  // a reused WsUrl does not keep the last one's scheme
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.host, "127.0.0.1");
}

namespace {

Parsed parse_wss(std::vector<std::string> args) {
  args.insert(args.begin(), "wss://127.0.0.1:9443/");
  return parse(args);
}

void expect_bad_wss(std::vector<std::string> args, const std::string& flag) {
  expect_bad(std::move(args), flag, "wss://127.0.0.1:9443/");
}

}  // namespace

TEST(LoadOptions, TlsDefaultsVerifyTheUrlHostAgainstTheSystemStore) {
  Parsed p = parse_wss({});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  const LoadTlsOptions& t = p.options.tls;
  EXPECT_FALSE(t.insecure);
  EXPECT_TRUE(t.ca_file.empty());
  EXPECT_FALSE(t.resume);
  EXPECT_EQ(t.min_version, wsring::server::TlsVersion::Tls12);
  EXPECT_EQ(t.max_version, wsring::server::TlsVersion::Tls13);
  EXPECT_EQ(t.name_for(p.options.url), "127.0.0.1");
}

TEST(LoadOptions, TlsFlags) {
  Parsed p = parse_wss({"--ca", "/etc/ca.pem", "--sni", "echo.example.org", "--tls-resume", "--tls-min=1.3",
                        "--tls-max", "1.3"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  const LoadTlsOptions& t = p.options.tls;
  EXPECT_EQ(t.ca_file, "/etc/ca.pem");
  EXPECT_EQ(t.server_name, "echo.example.org");
  EXPECT_EQ(t.name_for(p.options.url), "echo.example.org");
  EXPECT_TRUE(t.resume);
  EXPECT_EQ(t.min_version, wsring::server::TlsVersion::Tls13);
  EXPECT_EQ(t.max_version, wsring::server::TlsVersion::Tls13);
  Parsed q = parse_wss({"--insecure", "--tls-max", "1.2", "--sni", "::1"});
  ASSERT_EQ(q.outcome, ParseOutcome::Run) << q.message;
  EXPECT_TRUE(q.options.tls.insecure);
  EXPECT_EQ(q.options.tls.max_version, wsring::server::TlsVersion::Tls12);
  EXPECT_EQ(q.options.tls.server_name, "::1");
  EXPECT_TRUE(parse_wss({"--sni", "localhost"}).outcome == ParseOutcome::Run);
  EXPECT_EQ(q.options.tls.tls13_suites, "");  // OpenSSL's default offer
  Parsed r = parse_wss({"--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"});
  ASSERT_EQ(r.outcome, ParseOutcome::Run) << r.message;
  EXPECT_EQ(r.options.tls.tls13_suites, "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
}

TEST(LoadOptions, BadTlsValuesNameTheirFlag) {
  for (const char* v : {"1.1", "1.0", "13", "1.3.0", "TLSv1.3", ""}) {
    expect_bad_wss({"--tls-min", v}, "--tls-min");
    expect_bad_wss({"--tls-max", v}, "--tls-max");
  }
  for (const char* v : {"", "a b", "-lead.example", "trail-.example", "dot..example", ".example", "example.",
                        "under_score.example", "[::1]", "caf\xc3\xa9.example"})
    expect_bad_wss({"--sni", v}, "--sni");
  expect_bad_wss({"--sni", std::string(64, 'a') + ".example"}, "--sni");  // a label of 64
  expect_bad_wss({"--ca", ""}, "--ca");
  for (const char* v : {"", "TLS_AES_128_GCM", "AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256:"})
    expect_bad_wss({"--tls-ciphersuites", v}, "--tls-ciphersuites");
  for (const char* flag : {"--ca", "--sni", "--tls-min", "--tls-max", "--tls-ciphersuites"}) expect_bad_wss({flag}, flag);
  expect_bad_wss({"--insecure=yes"}, "--insecure");
  expect_bad_wss({"--tls-resume=1"}, "--tls-resume");
  expect_bad_wss({"--tls-min", "1.3", "--tls-max", "1.2"}, "--tls-min");
  expect_bad_wss({"--insecure", "--ca", "ca.pem"}, "--ca");
}

TEST(LoadOptions, TlsFlagsNeedAWssUrl) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--insecure"}, {"--tls-resume"}, {"--ca", "ca.pem"}, {"--sni", "x.example"}, {"--tls-min", "1.2"},
           {"--tls-max", "1.3"}, {"--tls-ciphersuites", "TLS_AES_128_GCM_SHA256"}})
    expect_bad(args, args[0]);
  // Whichever comes first, the URL or the flag.
  Parsed p = parse({"--insecure", "ws://127.0.0.1:1/"});
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(p.message.find("wss://"), std::string::npos) << p.message;
}

TEST(LoadOptions, HelpAndVersion) {
  Parsed h = parse({"--help"});
  EXPECT_EQ(h.outcome, ParseOutcome::Exit0);
  EXPECT_NE(h.message.find("--handshake-only"), std::string::npos);
  for (const char* flag : {"wss://", "--insecure", "--ca", "--sni", "--tls-resume", "--tls-min", "--tls-max"})
    EXPECT_NE(h.message.find(flag), std::string::npos) << flag;
  Parsed v = parse({"--version"});
  EXPECT_EQ(v.outcome, ParseOutcome::Exit0);
  EXPECT_NE(v.message.find(kLoadVersion), std::string::npos);
}

TEST(LoadOptions, MissingOrRepeatedUrl) {
  Parsed p = parse({"--connections", "5"});
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(p.message.find("URL"), std::string::npos);
  Parsed twice = parse({"ws://127.0.0.1:1/", "ws://127.0.0.1:2/"});
  EXPECT_EQ(twice.outcome, ParseOutcome::BadUsage);
  Parsed bad = parse({"ftp://x/"});
  EXPECT_EQ(bad.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(bad.message.find("ftp://x/"), std::string::npos);
}

TEST(LoadOptions, BadValuesNameTheirFlag) {
  for (const char* v : {"0", "-1", "abc", "16777217", "", "1.5", "10x"}) expect_bad({"--connections", v}, "--connections");
  for (const char* v : {"0", "-1", "abc", "inf", "nan", "1e99", "", "0x10", "0ms", "1001h", "5 s"})
    expect_bad({"--duration", v}, "--duration");
  for (const char* v : {"0", "-5", "x", "1.5", ""}) expect_bad({"--messages", v}, "--messages");
  for (const char* v : {"15", "0", "abc", "10-5K", "64-32", "300M", "1K-", "-1K", "1Q", "1KX", ""})
    expect_bad({"--size", v}, "--size");
  for (const char* v : {"0", "65537", "x", "-2", ""}) expect_bad({"--pipeline", v}, "--pipeline");
  for (const char* v : {"0", "-3", "fast", "1e10", "1000000001", "5/m", ""}) expect_bad({"--rate", v}, "--rate");
  for (const char* v : {"-1", "soon", "1e7", "1001h", "0.0001", ""}) expect_bad({"--ramp-up", v}, "--ramp-up");
  for (const char* v : {"0", "257", "two", ""}) expect_bad({"--threads", v}, "--threads");
  for (const char* v : {"0", "-1", "x", ""}) expect_bad({"--connect-rate", v}, "--connect-rate");
  expect_bad({"--json", ""}, "--json");
  for (const char* v : {"", "localhost", "127.0.0.9-127.0.0.1", "127.0.0.1-::1", "1.2.3.4,nope", "0.0.0.0-1.0.0.0",
                        "::1"})
    expect_bad({"--source-addrs", v}, "--source-addrs");
  for (const char* v : {"uring", "EPOLL", ""}) expect_bad({"--backend", v}, "--backend");
}

TEST(LoadOptions, MissingValuesAndUnknownFlags) {
  for (const char* flag : {"--connections", "--duration", "--messages", "--size", "--pipeline", "--rate", "--ramp-up",
                           "--threads", "--connect-rate", "--json", "--source-addrs", "--backend"})
    expect_bad({flag}, flag);
  expect_bad({"--frobnicate", "3"}, "--frobnicate");
  expect_bad({"--text=yes"}, "--text");
  expect_bad({"--handshake-only=1"}, "--handshake-only");
}

TEST(LoadOptions, ConflictingFlags) {
  expect_bad({"--duration", "5", "--messages", "100"}, "--messages");
  expect_bad({"--text", "--binary"}, "--text");
  expect_bad({"--handshake-only", "--messages", "10"}, "--messages");
  expect_bad({"--handshake-only", "--rate", "10"}, "--rate");
  // Send buffers beyond 8 GiB: 100k connections x 16 x 1 MiB.
  expect_bad({"--connections", "100000", "--pipeline", "16", "--size", "1M"}, "--size");
  // Beyond 1 GiB in flight on one connection.
  expect_bad({"--connections", "1", "--pipeline", "8", "--size", "256M"}, "--pipeline");
  EXPECT_EQ(parse_ok({"--connections", "1", "--pipeline", "3", "--size", "256M"}).options.pipeline, 3u);
}

// The value grammar is the one wsring-echo uses (server/cli_values.hpp, tested in
// cli_values_test.cpp); here: every kind reaches its flag.
TEST(LoadOptions, ValuesFollowTheSharedGrammar) {
  Parsed p = parse_ok({"--duration", "2m", "--ramp-up", "500ms", "--rate", "100/s", "--connect-rate", "0.5",
                       "--size", "1KiB-2k"});
  EXPECT_EQ(p.options.duration_s, 120.0);
  EXPECT_EQ(p.options.ramp_up_s, 0.5);
  EXPECT_EQ(p.options.rate, 100.0);
  EXPECT_EQ(p.options.connect_rate, 0.5);
  EXPECT_EQ(p.options.size_min, 1024u);
  EXPECT_EQ(p.options.size_max, 2048u);
  EXPECT_EQ(parse_ok({"--duration", "1h"}).options.duration_s, 3600.0);
  EXPECT_EQ(parse_ok({"--ramp-up", "0"}).options.ramp_up_s, 0.0);
  EXPECT_EQ(parse_ok({"--duration", "0.25"}).options.duration_s, 0.25);
  // Counts take no suffix.
  expect_bad({"--connections", "10k"}, "--connections");
  expect_bad({"--messages", "1M"}, "--messages");
}

TEST(LoadOptions, DeflateOffersItsParameters) {
  EXPECT_FALSE(parse_ok({}).options.deflate);
  Parsed p = parse_ok({"--deflate"});
  EXPECT_TRUE(p.options.deflate);
  EXPECT_EQ(p.options.deflate_params, "client_max_window_bits");
  p = parse_ok({"--deflate=server_no_context_takeover; server_max_window_bits=10"});
  EXPECT_EQ(p.options.deflate_params, "server_no_context_takeover; server_max_window_bits=10");
  expect_bad({"--deflate=server_max_window_bits=99"}, "--deflate");
  expect_bad({"--deflate=mux"}, "--deflate");
  EXPECT_FALSE(p.options.deflate_takeover);
  EXPECT_TRUE(parse_ok({"--deflate", "--deflate-takeover"}).options.deflate_takeover);
  expect_bad({"--deflate-takeover"}, "--deflate-takeover: only with --deflate");
}
