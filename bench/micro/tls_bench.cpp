// TLS micro-benchmarks (sessions over memory, no sockets):
// - send: echo-sized pieces encrypted coalesced into full records vs one record per message,
//   by OpenSSL or by wsring's TLS 1.3 record layer (the session offloaded);
// - receive: decrypting a batch of small records, with OpenSSL's buffers released once per
//   batch (what TlsSession does) or after every record (SSL_MODE_RELEASE_BUFFERS);
// - handshakes: the server's share of a full and a resumed TLS 1.3 handshake (ECDSA P-256),
//   and the same on 2 threads with one shared SSL_CTX or one SSL_CTX per thread.
#include <benchmark/benchmark.h>
#include <openssl/ssl.h>
#include <time.h>

#include <vector>

#include "server/tls_session.hpp"
#include "tests/unit/tls_test_support.hpp"

namespace {

using namespace wsring;
using server::TlsSession;

// record_offload: TLS 1.3 records protected by wsring's record layer (the default) or OpenSSL's.
const server::TlsContext& shared_server_context(bool record_offload = true) {
  static const server::TlsContext offloaded =
      tls_test::server_context(tls_test::pki().ec_cert, tls_test::pki().ec_key, nullptr, true);
  static const server::TlsContext openssl =
      tls_test::server_context(tls_test::pki().ec_cert, tls_test::pki().ec_key, nullptr, false);
  return record_offload ? offloaded : openssl;
}

const server::TlsContext& shared_client_context() {
  static const server::TlsContext context = tls_test::client_context();
  return context;
}

constexpr int kMessages = 100;  // per batch: a busy connection's receive
constexpr size_t kPayload = 32;

// 100 server frames of 32 bytes: a 2-byte header and the payload, as two pieces each.
struct EchoBatch {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kMessages * (2 + kPayload), 'e');
  std::vector<iovec> pieces;
  EchoBatch() {
    for (int i = 0; i < kMessages; ++i) {
      uint8_t* frame = bytes.data() + i * (2 + kPayload);
      pieces.push_back({frame, 2});
      pieces.push_back({frame + 2, kPayload});
    }
  }
};

// Arg: 0 OpenSSL's record layer, 1 wsring's (offloaded).
void BM_TlsEncryptEchoCoalesced(benchmark::State& state) {
  tls_test::Pair pair(shared_client_context(), shared_server_context(state.range(0) == 1));
  if (!pair.connect()) state.SkipWithError("handshake");
  EchoBatch batch;
  for (auto _ : state) {
    pair.server.out.clear();
    benchmark::DoNotOptimize(pair.server.session.encrypt(batch.pieces, pair.server.out));
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.counters["wire_bytes"] = double(pair.server.out.bytes().size());
}
BENCHMARK(BM_TlsEncryptEchoCoalesced)->Arg(0)->Arg(1);

void BM_TlsEncryptEchoRecordPerMessage(benchmark::State& state) {
  tls_test::Pair pair(shared_client_context(), shared_server_context(state.range(0) == 1));
  if (!pair.connect()) state.SkipWithError("handshake");
  EchoBatch batch;
  for (auto _ : state) {
    pair.server.out.clear();
    for (int i = 0; i < kMessages; ++i)
      benchmark::DoNotOptimize(pair.server.session.encrypt({&batch.pieces[2 * i], 2}, pair.server.out));
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.counters["wire_bytes"] = double(pair.server.out.bytes().size());
}
BENCHMARK(BM_TlsEncryptEchoRecordPerMessage)->Arg(0)->Arg(1);

// Receive: a batch of 100 client records of 38 bytes (32-byte payload + 6-byte client header).
// Arg 0: OpenSSL, buffers freed once per batch (TlsSession); 1: OpenSSL, after every record
// (RELEASE_BUFFERS); 2: wsring's record layer (offloaded).
void BM_TlsDecryptSmallRecords(benchmark::State& state) {
  tls_test::Pair pair(shared_client_context(), shared_server_context(state.range(0) == 2));
  if (!pair.connect()) state.SkipWithError("handshake");
  SSL* ssl = pair.server.session.native_handle();
  if (state.range(0) == 1) SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
  const std::vector<uint8_t> message(38, 'c');
  // A record decrypts only once (sequence numbers), so every iteration gets its own batch.
  std::vector<std::vector<uint8_t>> batches;
  for (int b = 0; b < 2000; ++b) {
    pair.client.out.clear();
    for (int i = 0; i < kMessages; ++i) pair.client.session.encrypt(message, pair.client.out);
    batches.emplace_back(pair.client.out.bytes().begin(), pair.client.out.bytes().end());
  }
  std::vector<uint8_t> plain(65536);
  size_t next = 0;
  for (auto _ : state) {
    if (next == batches.size()) {  // each record can be decrypted once: batches are not reusable
      state.SkipWithError("ran out of pre-encrypted batches");
      break;
    }
    std::span<const uint8_t> input(batches[next++]);
    const server::TlsReadResult r = pair.server.session.read(input, plain, pair.server.out);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
}
BENCHMARK(BM_TlsDecryptSmallRecords)->Arg(0)->Arg(1)->Arg(2)->Iterations(2000);

// Wall time, not thread CPU time: a thread waiting on a lock another thread holds is what the
// shared-SSL_CTX comparison is about, and CPU time would not see it.
double now_seconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// One handshake; returns the seconds spent in the server's calls (the client's work is not
// counted).
double server_handshake_seconds(const server::TlsContext& client_ctx, const server::TlsContext& server_ctx,
                                const server::TlsResumption& ticket, bool* resumed) {
  tls_test::Peer client, srv;
  client.session = TlsSession::client(client_ctx, "localhost", ticket);
  double server_time = 0;
  const double start = now_seconds();
  srv.session = TlsSession::server(server_ctx);
  server_time += now_seconds() - start;
  tls_test::Chunker whole;
  client.session.start(client.out);
  for (int i = 0; i < 10 && !client.out.bytes().empty(); ++i) {
    const double t0 = now_seconds();
    tls_test::deliver(client, srv, whole);
    server_time += now_seconds() - t0;
    tls_test::deliver(srv, client, whole);
  }
  const double t1 = now_seconds();
  srv.session = TlsSession();  // freeing the server session is the server's work too
  server_time += now_seconds() - t1;
  *resumed = client.session.resumed();
  return server_time;
}

// Arg: 0 full, 1 resumed. Threads(2) with one shared SSL_CTX (range 1 = 0) or one per thread.
void BM_TlsServerHandshake(benchmark::State& state) {
  const bool resume = state.range(0) == 1, per_thread_ctx = state.range(1) == 1;
  server::TlsContext server_ctx = per_thread_ctx ? tls_test::server_context(tls_test::pki().ec_cert, tls_test::pki().ec_key)
                                                 : shared_server_context();
  const server::TlsContext& client_ctx = shared_client_context();
  server::TlsResumption ticket;
  if (resume) {
    tls_test::Pair first(client_ctx, server_ctx);
    first.connect();
    first.server.session.encrypt({reinterpret_cast<const uint8_t*>("x"), 1}, first.server.out);
    first.pump_all();
    ticket = first.client.session.resumption();
  }
  for (auto _ : state) {
    bool resumed = false;
    state.SetIterationTime(server_handshake_seconds(client_ctx, server_ctx, ticket, &resumed));
    if (resumed != resume) state.SkipWithError("resumption did not go as planned");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TlsServerHandshake)->Args({0, 0})->Args({1, 0})->UseManualTime();
BENCHMARK(BM_TlsServerHandshake)->Args({0, 0})->Args({0, 1})->Args({1, 0})->Args({1, 1})->Threads(2)->UseManualTime();

}  // namespace
