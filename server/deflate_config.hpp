// permessage-deflate's settings (--deflate, --deflate-threshold, --deflate-idle,
// --deflate-passthrough) and their
// value grammar, kept apart from config.cpp's table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wsring::server {

enum class DeflateMode : uint8_t {
  Off,        // the extension is never agreed
  Shared,     // no context takeover both ways: per-thread streams, nothing per idle connection
  Dedicated,  // context takeover: a connection's own streams, allocated on its first compressed
              // message and folded down to their windows after --deflate-idle without messages
};

struct DeflateConfig {
  DeflateMode mode = DeflateMode::Shared;
  uint8_t window_bits = 12;      // dedicated: the window of our deflater and the one asked of clients
  uint64_t threshold = 64;       // replies shorter than this are sent uncompressed
  double idle_s = 10;            // dedicated: streams idle this long give their memory back
  bool passthrough = true;       // echo: send a compressed message back as it came, when the
                                 // agreement lets the client read it (core::echo_can_pass_through)
};

// "off", "shared", "dedicated" or "dedicated:BITS" (BITS 9..15). False with `error` set.
bool parse_deflate_mode(std::string_view text, DeflateConfig& out, std::string& error);

// "on" or "off" for --deflate-passthrough. False with `error` set.
bool parse_deflate_passthrough(std::string_view text, DeflateConfig& out, std::string& error);

// The --help lines of the four flags.
extern const char kDeflateUsage[];

}  // namespace wsring::server
