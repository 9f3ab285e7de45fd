// libFuzzer target: the admin listener's HTTP handler on arbitrary bytes. The same bytes fed
// whole and in pieces (sizes taken from the first input byte) must give the same responses and
// the same verdict on the connection: how a stream is split into reads changes nothing. Every
// response is a whole HTTP/1.1 response. Violations abort.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/admin_http.hpp"

namespace {

using namespace wsring::server;

void require(bool condition) {
  if (!condition) std::abort();
}

AdminResponse routes(std::string_view path) {
  AdminResponse r;
  r.status = path == "/metrics" ? 200 : 404;
  r.body = std::string(path.substr(0, 64)) + "\n";  // echoes the path: a body the input shapes
  return r;
}

struct Result {
  std::string out;
  bool open = true;
};

Result feed(std::string_view input, size_t piece) {
  AdminHttpConnection http;
  Result r;
  for (size_t pos = 0; pos < input.size(); pos += piece) r.open = http.receive(input.substr(pos, piece), routes, r.out);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = size_t(data[0] % 16) + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (input.empty()) return 0;
  const Result whole = feed(input, input.size());
  const Result split = feed(input, piece);
  require(whole.out == split.out);
  require(whole.open == split.open);
  require(whole.out.empty() || whole.out.rfind("HTTP/1.1 ", 0) == 0);
  if (!whole.open) require(whole.out.find("Connection: close\r\n") != std::string::npos);
  return 0;
}
