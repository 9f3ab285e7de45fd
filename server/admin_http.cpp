#include "server/admin_http.hpp"

#include <charconv>

namespace wsring::server {

const char* http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

void write_admin_response(std::string& out, const AdminResponse& r, bool keep_alive, bool head_only,
                          const char* extra_headers) {
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += http_reason(r.status);
  out += "\r\nContent-Type: ";
  out += r.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  out += "\r\nCache-Control: no-store\r\n";
  out += extra_headers;
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only) out += r.body;
}

AdminHttpConnection::AdminHttpConnection() : request_(std::make_unique<core::UpgradeRequest>()) {}

bool AdminHttpConnection::receive(std::string_view bytes, const AdminRoutes& routes, std::string& out) {
  if (closing_) return false;
  input_.append(bytes);
  while (!input_.empty() && !closing_) {
    if (!answer(routes, out)) break;
  }
  return !closing_;
}

namespace {

AdminResponse error_response(int status, std::string_view text) {
  AdminResponse r;
  r.status = status;
  r.body.assign(text);
  r.body += '\n';
  return r;
}

}  // namespace

bool AdminHttpConnection::answer(const AdminRoutes& routes, std::string& out) {
  core::RequestLimits limits;
  limits.max_header_bytes = kMaxHeadBytes;
  limits.max_headers = kMaxHeaders;
  limits.accept_http10 = true;  // HAProxy's `option httpchk` and curl -0 send HTTP/1.0
  const core::ParseResult parsed = core::parse_upgrade_request(input_, limits, *request_);
  if (parsed.status == core::ParseStatus::NeedMore) return false;
  if (parsed.status == core::ParseStatus::Error) {  // the stream cannot be followed past this
    closing_ = true;
    write_admin_response(out, error_response(parsed.http_status, parsed.error ? parsed.error : "bad request"), false,
                         false);
    return false;
  }
  const core::UpgradeRequest& req = *request_;
  const auto headers = req.header_list();
  // HTTP/1.0 closes after each response (its keep-alive extension is not spoken here).
  const bool close = core::headers_have_token(headers, "Connection", "close") || req.version == "HTTP/1.0";
  // No admin request has a body; one we would have to skip is refused and the connection closed.
  const std::string_view length = core::find_header(headers, "Content-Length");
  const bool body = (!length.empty() && length != "0") || !core::find_header(headers, "Transfer-Encoding").empty();
  std::string_view path = req.target;
  if (const size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  const bool get = req.method == "GET", head = req.method == "HEAD";
  AdminResponse r;
  const char* extra = "";
  if (body) {
    r = error_response(400, "request bodies are not accepted");
  } else {
    r = routes(path);
    if (r.status != 404 && !get && !head) {
      r = error_response(405, "only GET and HEAD");
      extra = "Allow: GET, HEAD\r\n";
    }
  }
  if (body || close) closing_ = true;
  write_admin_response(out, r, !closing_, head, extra);
  input_.erase(0, parsed.consumed);
  return true;
}

}  // namespace wsring::server
