// Client-side bytes for driving a WebSocket server in tests, written independently of core/
// so that a bug there cannot hide itself: upgrade requests, masked client frames, and a
// decoder for the server's (unmasked) frames.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::fakes {

// RFC 6455 §1.3's example key and the accept value the RFC gives for it.
inline constexpr std::string_view kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
inline constexpr std::string_view kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

inline std::string upgrade_request(std::string_view key = kSampleKey, std::string_view path = "/",
                                   std::string_view extra_headers = "") {
  std::string r = "GET ";
  r += path;
  r += " HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  r += key;
  r += "\r\nSec-WebSocket-Version: 13\r\n";
  r += extra_headers;
  r += "\r\n";
  return r;
}

// A client frame: masked with `mask` (RFC 6455 §5.3) unless masked is false.
inline std::string client_frame(uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true,
                                uint32_t mask = 0x37fa213d, uint8_t rsv = 0) {
  std::string f;
  f += char((fin ? 0x80 : 0) | (rsv << 4) | (opcode & 0x0f));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (n < 126) {
    f += char(mask_bit | n);
  } else if (n <= 0xffff) {
    f += char(mask_bit | 126);
    f += char(n >> 8);
    f += char(n & 0xff);
  } else {
    f += char(mask_bit | 127);
    for (int i = 7; i >= 0; --i) f += char((n >> (8 * i)) & 0xff);
  }
  const uint8_t key[4] = {uint8_t(mask >> 24), uint8_t(mask >> 16), uint8_t(mask >> 8), uint8_t(mask)};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < n; ++i) f += masked ? char(uint8_t(payload[i]) ^ key[i % 4]) : payload[i];
  return f;
}

inline std::string close_payload(uint16_t code, std::string_view reason = "") {
  std::string p;
  p += char(code >> 8);
  p += char(code & 0xff);
  p += reason;
  return p;
}

struct ServerFrame {
  bool fin = false;
  uint8_t rsv = 0;
  uint8_t opcode = 0;
  bool masked = false;
  std::string payload;
  uint16_t close_code() const {
    return payload.size() >= 2 ? uint16_t((uint8_t(payload[0]) << 8) | uint8_t(payload[1])) : 0;
  }
};

// Decodes whole frames from the start of bytes; *rest (if given) gets what is left over
// (an incomplete frame). Masked frames are decoded too, and flagged.
inline std::vector<ServerFrame> parse_frames(std::string_view bytes, std::string_view* rest = nullptr) {
  std::vector<ServerFrame> frames;
  size_t pos = 0;
  for (;;) {
    if (bytes.size() - pos < 2) break;
    const uint8_t b0 = uint8_t(bytes[pos]), b1 = uint8_t(bytes[pos + 1]);
    size_t header = 2;
    uint64_t n = b1 & 0x7f;
    if (n == 126) {
      if (bytes.size() - pos < 4) break;
      n = (uint64_t(uint8_t(bytes[pos + 2])) << 8) | uint8_t(bytes[pos + 3]);
      header = 4;
    } else if (n == 127) {
      if (bytes.size() - pos < 10) break;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | uint8_t(bytes[pos + 2 + i]);
      header = 10;
    }
    const bool masked = b1 & 0x80;
    uint8_t key[4] = {};
    if (masked) {
      if (bytes.size() - pos < header + 4) break;
      for (int i = 0; i < 4; ++i) key[i] = uint8_t(bytes[pos + header + i]);
      header += 4;
    }
    if (bytes.size() - pos - header < n) break;
    ServerFrame f;
    f.fin = b0 & 0x80;
    f.rsv = (b0 >> 4) & 7;
    f.opcode = b0 & 0x0f;
    f.masked = masked;
    f.payload.assign(bytes.substr(pos + header, size_t(n)));
    if (masked)
      for (size_t i = 0; i < f.payload.size(); ++i) f.payload[i] = char(uint8_t(f.payload[i]) ^ key[i % 4]);
    frames.push_back(std::move(f));
    pos += header + size_t(n);
  }
  if (rest) *rest = bytes.substr(pos);
  return frames;
}

// Splits an HTTP response head (through CRLFCRLF) from what follows it; head is empty if
// the head is not complete.
inline void split_head(std::string_view wire, std::string_view& head, std::string_view& after) {
  const size_t end = wire.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    head = {};
    after = wire;
    return;
  }
  head = wire.substr(0, end + 4);
  after = wire.substr(end + 4);
}

// Joins the data frames of one message per entry (fragments reassembled), controls skipped.
inline std::vector<std::string> messages(const std::vector<ServerFrame>& frames) {
  std::vector<std::string> out;
  std::string current;
  bool in_message = false;
  for (const ServerFrame& f : frames) {
    if (f.opcode >= 8) continue;
    if (!in_message) current.clear();
    current += f.payload;
    in_message = !f.fin;
    if (f.fin) out.push_back(current);
  }
  return out;
}

}  // namespace wsring::fakes
