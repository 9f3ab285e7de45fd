// Handshake micro-benchmarks: request parsing, the accept key, and the whole server-side
// accept path (parse + validate + write the 101 into a pooled buffer).
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <string>

#include "core/buffer_pool.hpp"
#include "core/handshake.hpp"
#include "core/http_request.hpp"

namespace {

using namespace wsring::core;

// What Chrome sends for new WebSocket("ws://example.com:8080/chat"): about 400 bytes.
const std::string kChromeRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

void BM_ParseUpgradeRequest(benchmark::State& state) {
  auto request = std::make_unique<UpgradeRequest>();
  const RequestLimits limits;
  for (auto _ : state) {
    ParseResult result = parse_upgrade_request(kChromeRequest, limits, *request);
    benchmark::DoNotOptimize(result);
    benchmark::ClobberMemory();
  }
  if (parse_upgrade_request(kChromeRequest, limits, *request).status != ParseStatus::Complete) {
    state.SkipWithError("request did not parse");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChromeRequest.size()));
  state.counters["request_bytes"] = static_cast<double>(kChromeRequest.size());
}
BENCHMARK(BM_ParseUpgradeRequest);

void BM_AcceptKey(benchmark::State& state) {
  char accept[kAcceptKeySize];
  for (auto _ : state) {
    compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept);
    benchmark::DoNotOptimize(accept);
  }
}
BENCHMARK(BM_AcceptKey);

void BM_UpgradeResponse(benchmark::State& state) {
  auto request = std::make_unique<UpgradeRequest>();
  const RequestLimits limits;
  const std::array<std::string_view, 1> protocols = {"chat"};
  HandshakePolicy policy;
  policy.path = "/chat";
  policy.subprotocols = protocols;
  BufferPool pool(4096, 16);
  for (auto _ : state) {
    uint8_t* buffer = pool.acquire();
    const ParseResult parsed = parse_upgrade_request(kChromeRequest, limits, *request);
    const HandshakeDecision decision = validate_upgrade(*request, policy);
    size_t written = 0;
    if (parsed.status == ParseStatus::Complete && decision.status == 101) {
      written = write_upgrade_response(
          std::span<char>(reinterpret_cast<char*>(buffer), pool.buffer_size()), decision.key,
          decision.subprotocol);
    }
    benchmark::DoNotOptimize(written);
    benchmark::ClobberMemory();
    pool.release(buffer);
    if (written == 0) {
      state.SkipWithError("handshake was not accepted");
      break;
    }
  }
}
BENCHMARK(BM_UpgradeResponse);

}  // namespace
