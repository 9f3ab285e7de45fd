// Fuzzes close payload parsing: never crashes; accepted payloads have a valid code (or are empty,
// meaning 1005) and a UTF-8 reason viewing into the payload; rejections say 1002 or 1007.
// Accepted payloads also round-trip through write_close_frame (masked and unmasked).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/close.hpp"
#include "core/unmask.hpp"
#include "core/utf8.hpp"

using namespace wsring::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Exact-size heap copy so ASan sees any read past the payload.
  std::vector<uint8_t> payload(data, data + size);
  const CloseParseResult result = parse_close_payload(payload.data(), payload.size());
  if (!result.ok) {
    if (result.fail_code != close_code::protocol_error && result.fail_code != close_code::invalid_payload) std::abort();
    if (size >= 2 && is_valid_close_code(static_cast<uint16_t>(data[0] << 8 | data[1])) &&
        result.fail_code != close_code::invalid_payload) {
      std::abort();  // a valid code can only fail on its reason
    }
    return 0;
  }
  const CloseInfo& info = result.info;
  if (size == 0) {
    if (info.code != close_code::no_status || !info.reason.empty()) std::abort();
    return 0;
  }
  if (!is_valid_close_code(info.code)) std::abort();
  if (info.code != static_cast<uint16_t>(data[0] << 8 | data[1])) std::abort();
  if (info.reason.size() != size - 2) std::abort();
  if (reinterpret_cast<const uint8_t*>(info.reason.data()) != payload.data() + 2) std::abort();
  if (!is_valid_utf8(reinterpret_cast<const uint8_t*>(info.reason.data()), info.reason.size())) std::abort();

  // Round trip (the writer keeps at most 123 reason bytes, cut at a code point boundary).
  const uint8_t key[4] = {data[0], data[1], 0x5A, 0xA5};
  for (const uint8_t* mask : {static_cast<const uint8_t*>(nullptr), key}) {
    uint8_t frame[kMaxFrameHeaderSize + kMaxControlPayload];
    const size_t written = write_close_frame(frame, info.code, info.reason, mask);
    const size_t header = mask ? 6 : 2;
    if (written < header + 2 || written > header + kMaxControlPayload) std::abort();
    uint8_t* body = frame + header;
    const size_t body_size = written - header;
    if (mask) apply_mask(body, body_size, mask, 0);
    const CloseParseResult again = parse_close_payload(body, body_size);
    if (!again.ok || again.info.code != info.code) std::abort();
    if (again.info.reason.size() > info.reason.size() ||
        std::memcmp(again.info.reason.data(), info.reason.data(), again.info.reason.size()) != 0) {
      std::abort();
    }
    if (info.reason.size() <= kMaxControlPayload - 2 && again.info.reason.size() != info.reason.size()) std::abort();
  }
  return 0;
}
