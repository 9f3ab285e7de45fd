#include "server/pubsub_protocol.hpp"

namespace wsring::server {

namespace {

bool valid_topic(std::string_view t) {
  if (t.empty() || t.size() > kMaxTopicSize) return false;
  for (char c : t)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace

const char* parse_pubsub(std::string_view m, PubsubCommand& out) {
  const size_t verb_end = m.find(' ');
  if (verb_end == std::string_view::npos) return "pubsub: expected SUB topic, UNSUB topic or PUB topic payload";
  const std::string_view verb = m.substr(0, verb_end);
  if (verb == "SUB") out.verb = PubsubVerb::Sub;
  else if (verb == "UNSUB") out.verb = PubsubVerb::Unsub;
  else if (verb == "PUB") out.verb = PubsubVerb::Pub;
  else return "pubsub: unknown command (expected SUB, UNSUB or PUB)";
  std::string_view rest = m.substr(verb_end + 1);
  out.payload = {};
  if (out.verb == PubsubVerb::Pub) {
    const size_t topic_end = rest.find(' ');
    if (topic_end != std::string_view::npos) {
      out.payload = rest.substr(topic_end + 1);
      rest = rest.substr(0, topic_end);
    }
  }
  if (!valid_topic(rest)) return "pubsub: bad topic (1 to 128 printable ASCII bytes, no spaces)";
  out.topic = rest;
  return nullptr;
}

}  // namespace wsring::server
