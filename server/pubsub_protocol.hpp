// The pubsub application's command language, sans-I/O. One command per message (text or
// binary), words separated by one space:
//   SUB topic            subscribe (answered "OK SUB topic")
//   UNSUB topic          unsubscribe (answered "OK UNSUB topic")
//   PUB topic payload    every subscriber of topic (the publisher too, if subscribed) receives
//                        "MSG topic payload", in a message of the PUB's own type; the payload is
//                        everything after the space that follows the topic (may be empty)
// A topic is 1 to 128 bytes of printable ASCII without spaces (0x21-0x7e).
#pragma once

#include <cstddef>
#include <string_view>

namespace wsring::server {

enum class PubsubVerb { Sub, Unsub, Pub };

struct PubsubCommand {
  PubsubVerb verb = PubsubVerb::Sub;
  std::string_view topic;
  std::string_view payload;  // PUB only
};

constexpr size_t kMaxTopicSize = 128;

// nullptr when `message` is a valid command (then `out` is set), else the reason (a short,
// static text for a close frame).
const char* parse_pubsub(std::string_view message, PubsubCommand& out);

}  // namespace wsring::server
