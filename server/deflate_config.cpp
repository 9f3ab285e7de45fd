#include "server/deflate_config.hpp"

#include "core/deflate_offer.hpp"
#include "server/cli_values.hpp"

namespace wsring::server {

const char kDeflateUsage[] =
    "  --deflate off|shared|dedicated[:BITS]   permessage-deflate when a client offers it (default\n"
    "                             shared: no context takeover, per-thread streams, 0 bytes per idle\n"
    "                             connection; dedicated: context takeover, a window of 2^BITS bytes,\n"
    "                             BITS 9 to 15, default 12)\n"
    "  --deflate-threshold SIZE   send replies shorter than this uncompressed, 0 to 1M (default 64)\n"
    "  --deflate-idle DURATION    dedicated: a connection silent this long keeps only its windows,\n"
    "                             1ms to 1000h (default 10s)\n"
    "  --deflate-passthrough on|off   echo: send a compressed message back with the client's own\n"
    "                             compressed bytes (inflated only to check it) when the agreement\n"
    "                             lets the client read them (default on)\n";

bool parse_deflate_mode(std::string_view text, DeflateConfig& out, std::string& error) {
  const std::string shown = cli::quoted(text);
  if (text == "off") {
    out.mode = DeflateMode::Off;
    return true;
  }
  if (text == "shared") {
    out.mode = DeflateMode::Shared;
    return true;
  }
  if (text.substr(0, 9) == "dedicated") {
    std::string_view bits = text.substr(9);
    if (bits.empty()) {
      out.mode = DeflateMode::Dedicated;
      return true;
    }
    uint64_t n = 0;
    if (bits.front() == ':' && cli::parse_count(bits.substr(1), n) && n >= core::kMinWindowBits &&
        n <= core::kMaxWindowBits) {
      out.mode = DeflateMode::Dedicated;
      out.window_bits = uint8_t(n);
      return true;
    }
    error = "--deflate: the window bits of dedicated:BITS are 9 to 15 (zlib cannot compress with 8), got " + shown;
    return false;
  }
  error = "--deflate: expected off, shared, dedicated or dedicated:BITS, got " + shown;
  return false;
}

bool parse_deflate_passthrough(std::string_view text, DeflateConfig& out, std::string& error) {
  if (text == "on" || text == "off") {
    out.passthrough = text == "on";
    return true;
  }
  error = "--deflate-passthrough: expected on or off, got " + cli::quoted(text);
  return false;
}

}  // namespace wsring::server
