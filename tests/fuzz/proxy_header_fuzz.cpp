// Fuzzes the PROXY protocol header parser: never crashes or reads past the input; a Done header
// lies within the input and within the limits; feeding the same bytes one more at a time gives
// Incomplete until the first answer that is not, and that answer is the whole input's answer
// (what the engine relies on when a header arrives split across receives).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/proxy_header.hpp"

using namespace wsring::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> input(data, data + size);  // exact-size copy: ASan sees overreads
  const ProxyHeader whole = parse_proxy_header(std::span<const uint8_t>(input.data(), input.size()));
  if (whole.status == ProxyStatus::Done) {
    if (whole.length == 0 || whole.length > size || whole.length > kProxyMaxLength) std::abort();
    if (whole.version == 1 && whole.length > kProxyV1MaxLength) std::abort();
    if (whole.local && whole.version != 2) std::abort();
  }
  if ((whole.status == ProxyStatus::Error) != (whole.error != ProxyError::None)) std::abort();
  if (whole.status == ProxyStatus::Incomplete && size >= kProxyMaxLength) std::abort();
  for (size_t n = 0; n <= size; ++n) {
    const std::vector<uint8_t> prefix(data, data + n);
    const ProxyHeader h = parse_proxy_header(std::span<const uint8_t>(prefix.data(), prefix.size()));
    if (h.status == ProxyStatus::Incomplete) continue;
    if (h.status != whole.status || h.error != whole.error || h.length != whole.length) std::abort();
    break;
  }
  return 0;
}
