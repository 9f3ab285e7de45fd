// What wsring-load adds to its upgrade request so that any WebSocket server can be loaded, not
// only an open echo endpoint: extra headers (--header), an Origin (--origin), subprotocols
// offered (--subprotocol; the server's choice must be one of them) and a bearer token read from
// a file or the environment (--token-file, --token-env). The URL's path and query are sent as
// they are written.
//
// The token is a secret: it goes into the Authorization header and nowhere else (never into a
// log line, an error message or the JSON report, which say only where it came from).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/http_request.hpp"

namespace wsring::load {

struct UpgradeOptions {
  std::vector<std::string> header_names;   // --header, in the order given
  std::vector<std::string> header_values;
  std::string origin;                      // --origin; empty: no Origin header
  std::vector<std::string> subprotocols;   // --subprotocol, offered in the order given
  std::string bearer_token;                // --token-file / --token-env: the secret itself
  std::string token_source;                // "file F" or "environment NAME", never the token

  bool empty() const {
    return header_names.empty() && origin.empty() && subprotocols.empty() && bearer_token.empty();
  }
  // Bytes these options add to the upgrade request at most (for the send buffer).
  size_t request_bytes() const;
};

// Parses "Name: value". False with `error` set (one line, without the flag) for a malformed
// header, and for the headers the client writes itself (Host, Upgrade, Connection,
// Sec-WebSocket-Key, Sec-WebSocket-Version, ...), naming the flag to use instead where one exists.
bool parse_header_option(std::string_view text, std::string& name, std::string& value, std::string& error);

// A subprotocol is an HTTP token (RFC 6455 §4.1: one of the values of Sec-WebSocket-Protocol).
bool is_http_token(std::string_view text);

// Reads the bearer token: the file's content, or the variable's value, with surrounding
// whitespace (a trailing newline) removed. False with `error` set; the error never holds the token.
bool read_token_file(const std::string& path, std::string& token, std::string& error);
bool read_token_env(const std::string& name, std::string& token, std::string& error);

// The extra headers for core::ClientRequestOptions: --header's, then Authorization for a token.
// The views point into `options` (and `authorization`, which holds "Bearer <token>").
std::vector<core::HttpHeader> request_headers(const UpgradeOptions& options, std::string& authorization);

}  // namespace wsring::load
