// Fuzzes the command parsers of the fan-out applications (shootout JSON and binary, pubsub):
// never crashes, never reads past the message; what is accepted points into the message.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "server/pubsub_protocol.hpp"
#include "server/shootout_protocol.hpp"

using namespace wsring::server;

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char> copy(data, data + size);  // exact size: ASan sees any read past it
  const std::string_view m(copy.data(), copy.size());
  ShootoutRequest r;
  if (!parse_shootout_json(m, r)) {
    if (r.payload != "null" && !inside(r.payload, m)) std::abort();
    if (r.payload != "null" && json_value_length(r.payload) != r.payload.size()) std::abort();
  }
  if (!parse_shootout_binary(m, r) && !inside(r.payload, m)) std::abort();
  PubsubCommand c;
  if (!parse_pubsub(m, c)) {
    if (!inside(c.topic, m) || !inside(c.payload, m)) std::abort();
    if (c.topic.empty() || c.topic.size() > kMaxTopicSize) std::abort();
  }
  (void)json_value_length(m);
  return 0;
}
