// libFuzzer target: the client's check of a server's handshake answer on arbitrary bytes, whole
// and split in two pieces (a prefix that is already decided must agree with the whole). The key
// is the RFC 6455 sample key, so seeds with its accept value reach the success path.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/client_handshake.hpp"

namespace {

using namespace wsring::core;

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";
const std::array<std::string_view, 2> kOffered = {"chat", "superchat"};

void check(std::string_view input, size_t max_bytes, const ClientHandshakeResult& result) {
  require(std::string_view(to_string(result.error)).size() > 0);
  require(result.consumed <= input.size() && result.consumed <= max_bytes);
  switch (result.error) {
    case ClientHandshakeError::NeedMore:
      require(input.size() < max_bytes && result.consumed == 0);
      break;
    case ClientHandshakeError::None:
      require(result.status == 101 && result.consumed >= 4);
      require(input.substr(result.consumed - 4, 4) == "\r\n\r\n");
      require(result.subprotocol.empty() || result.subprotocol == kOffered[0] || result.subprotocol == kOffered[1]);
      break;
    case ClientHandshakeError::BadStatus:
      require(result.status != 101 && result.consumed > 0);
      require(result.body_start.size() <= 256);
      require(result.body_start.empty() || result.body_start.data() == input.data() + result.consumed);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t max_bytes = (control & 1) ? 32 + control * 4 : 8192;
  const std::span<const std::string_view> offered =
      (control & 2) ? std::span<const std::string_view>() : std::span<const std::string_view>(kOffered);

  const ClientHandshakeResult whole = validate_upgrade_response(input, kKey, offered, max_bytes);
  check(input, max_bytes, whole);

  const size_t split = input.empty() ? 0 : (static_cast<size_t>(control) * 131) % (input.size() + 1);
  const ClientHandshakeResult first = validate_upgrade_response(input.substr(0, split), kKey, offered, max_bytes);
  check(input.substr(0, split), max_bytes, first);
  if (first.error != ClientHandshakeError::NeedMore) {
    require(first.error == whole.error && first.consumed == whole.consumed && first.status == whole.status);
  }
  return 0;
}
