// The admin listener's HTTP/1.1, sans-I/O: bytes in, responses out. Serves GET (and HEAD) of
// a few fixed paths with keep-alive and pipelining; everything else gets a proper status
// (404 unknown path, 405 other methods, 400 malformed, 431 head too large, 505 not HTTP/1.1).
// The request head is parsed by core's HTTP parser, the one the upgrade uses.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/http_request.hpp"

namespace wsring::server {

struct AdminResponse {
  int status = 200;
  std::string body;
  const char* content_type = "text/plain; charset=utf-8";
};

// Answers a GET of `path` (the target without its query); a status 404 means no such path.
using AdminRoutes = std::function<AdminResponse(std::string_view path)>;

class AdminHttpConnection {
 public:
  static constexpr size_t kMaxHeadBytes = 8192;
  static constexpr size_t kMaxHeaders = 64;

  AdminHttpConnection();
  // Takes bytes as they arrive and appends every response they complete to `out` (pipelined
  // requests are answered in order). False once the connection must close when `out` has been
  // sent (Connection: close, or an error the stream cannot continue after); later bytes are ignored.
  bool receive(std::string_view bytes, const AdminRoutes& routes, std::string& out);
  bool closing() const { return closing_; }

 private:
  // Answers one complete head (`consumed` bytes of input_); false: close after it.
  bool answer(const AdminRoutes& routes, std::string& out);

  std::string input_;
  std::unique_ptr<core::UpgradeRequest> request_;  // 8 KiB of header slots, reused
  bool closing_ = false;
};

// One HTTP/1.1 response with Content-Length; `head_only` leaves the body out (HEAD).
void write_admin_response(std::string& out, const AdminResponse& r, bool keep_alive, bool head_only,
                          const char* extra_headers = "");
const char* http_reason(int status);

}  // namespace wsring::server
