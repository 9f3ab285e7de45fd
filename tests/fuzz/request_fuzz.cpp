// libFuzzer target: the server's handshake path on arbitrary bytes. Parses the input whole and
// split in two pieces (a prefix must never contradict the whole: once a prefix is Complete or
// an Error, the whole gives the same verdict), then validates and writes the responses the
// server would send, checking the invariants each step promises. Violations abort.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/handshake.hpp"
#include "core/http_request.hpp"

namespace {

using namespace wsring::core;

void require(bool condition) {
  if (!condition) std::abort();
}

bool within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

// A written response head: ends with the one blank line, every CR starts a CRLF, no bare LF.
void check_head(std::string_view response, size_t head_size) {
  const std::string_view head = response.substr(0, head_size);
  require(head.size() >= 4 && head.substr(head.size() - 4) == "\r\n\r\n");
  require(head.find("\r\n\r\n") == head.size() - 4);
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\r') require(i + 1 < head.size() && head[i + 1] == '\n');
    if (head[i] == '\n') require(i > 0 && head[i - 1] == '\r');
  }
}

void check_parse(std::string_view input, const RequestLimits& limits, const UpgradeRequest& req,
                 const ParseResult& result) {
  switch (result.status) {
    case ParseStatus::NeedMore:
      require(input.size() < limits.max_header_bytes);
      break;
    case ParseStatus::Error:
      require(result.http_status == 400 || result.http_status == 431 || result.http_status == 505);
      require(result.error != nullptr && result.error[0] != '\0');
      break;
    case ParseStatus::Complete:
      require(result.consumed >= 4 && result.consumed <= input.size());
      require(result.consumed <= limits.max_header_bytes);
      require(input.substr(result.consumed - 4, 4) == "\r\n\r\n");
      require(req.header_count <= limits.max_headers && req.header_count <= kMaxHeaderCapacity);
      require(req.version == "HTTP/1.1");
      require(within(req.method, input) && within(req.target, input) && within(req.version, input));
      for (const HttpHeader& header : req.header_list()) {
        require(!header.name.empty() && within(header.name, input) && within(header.value, input));
      }
      break;
  }
}

void check_same_verdict(const ParseResult& prefix, const ParseResult& whole) {
  if (prefix.status == ParseStatus::NeedMore) return;
  require(prefix.status == whole.status);
  require(prefix.consumed == whole.consumed);
  require(prefix.http_status == whole.http_status);
}

const std::array<std::string_view, 3> kProtocols = {"chat", "v2.mqtt", "superchat"};
const std::array<std::string_view, 2> kOrigins = {"http://localhost:8080", "https://example.com"};

UpgradeRequest whole_request;
UpgradeRequest prefix_request;
char response[16384];

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the limits and the split point; the rest is the stream.
  const uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  RequestLimits limits;
  if (control & 1) {
    limits.max_header_bytes = 64 + (control >> 1) * 8;
    limits.max_headers = control % 7;
  }

  const ParseResult whole = parse_upgrade_request(input, limits, whole_request);
  check_parse(input, limits, whole_request, whole);

  const size_t split = input.empty() ? 0 : (static_cast<size_t>(control) * 131) % (input.size() + 1);
  const std::string_view prefix = input.substr(0, split);
  const ParseResult first = parse_upgrade_request(prefix, limits, prefix_request);
  check_parse(prefix, limits, prefix_request, first);
  check_same_verdict(first, whole);
  if (whole.status == ParseStatus::Complete) {
    // Exactly the head, with the frames cut off, parses the same.
    const ParseResult head_only = parse_upgrade_request(input.substr(0, whole.consumed), limits, prefix_request);
    require(head_only.status == ParseStatus::Complete && head_only.consumed == whole.consumed);
    require(prefix_request.header_count == whole_request.header_count);
  }

  if (whole.status == ParseStatus::Error) {
    const size_t n = write_error_response(response, whole.http_status, whole.error);
    require(n > 0);
    check_head(std::string_view(response, n), n - std::string_view(whole.error).size() - 1);
    return 0;
  }
  if (whole.status != ParseStatus::Complete) return 0;

  HandshakePolicy policy;
  policy.path = (control & 2) ? "/chat" : "";
  policy.subprotocols = kProtocols;
  if (control & 4) policy.allowed_origins = kOrigins;  // else the default: any Origin
  const HandshakeDecision decision = validate_upgrade(whole_request, policy);
  if (decision.status == 403) require(policy.allowed_origins.size() > 0 || count_headers(whole_request.header_list(), "Origin") > 1);
  if (decision.status == 101) {
    require(decision.key.size() == 24 && count_headers(whole_request.header_list(), "Sec-WebSocket-Key") == 1);
    require(is_valid_host(find_header(whole_request.header_list(), "Host")));
    if (!decision.subprotocol.empty()) {
      bool known = false;
      for (std::string_view p : kProtocols) known = known || p == decision.subprotocol;
      require(known && count_headers(whole_request.header_list(), "Sec-WebSocket-Protocol") > 0);
    }
    // The request's own headers as extras: hostile bytes must not split the response.
    const size_t n = write_upgrade_response(response, decision.key, decision.subprotocol,
                                            whole_request.header_list());
    require(n > 0);
    check_head(std::string_view(response, n), n);
  } else {
    require(decision.status == 400 || decision.status == 403 || decision.status == 404 ||
            decision.status == 405 || decision.status == 426);
    require(decision.reason != nullptr);
    require(!decision.plain_http || decision.status == 426);
    const size_t n = write_error_response(response, decision.status, decision.reason, decision.version_mismatch);
    require(n > 0);
    check_head(std::string_view(response, n), n - std::string_view(decision.reason).size() - 1);
  }
  return 0;
}
