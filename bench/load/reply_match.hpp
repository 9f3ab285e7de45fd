// How wsring-load pairs what the server sends with what it sent (--match):
//   echo   each reply is the echo of the oldest message outstanding, checked byte for byte
//          (the default: type, size and every byte; out-of-order or foreign echoes are mismatches)
//   count  each message from the server answers the oldest one outstanding, whatever it holds:
//          counted, its latency taken from that pairing in order; a message with nothing
//          outstanding is counted as unsolicited (not an error)
//   id     a correlation id is placed in each message (the {id} of a --message template) and
//          found in the reply (bench/load/message_source.hpp, find_reply_id); replies may come in
//          any order; a reply without an id is unsolicited, one whose id answers nothing
//          outstanding is an error (mismatch)
//   none   send only: no reply is expected; a message counts as delivered once the send that
//          holds it has completed; whatever the server sends is counted as unsolicited
#pragma once

#include <string>
#include <string_view>

namespace wsring::load {

enum class MatchMode : unsigned char { Echo, Count, Id, None };

inline const char* match_mode_name(MatchMode m) {
  return m == MatchMode::Echo ? "echo" : m == MatchMode::Count ? "count" : m == MatchMode::Id ? "id" : "none";
}

inline bool parse_match_mode(std::string_view text, MatchMode& out) {
  if (text == "echo") out = MatchMode::Echo;
  else if (text == "count") out = MatchMode::Count;
  else if (text == "none") out = MatchMode::None;
  else if (text == "id") out = MatchMode::Id;
  else return false;
  return true;
}

}  // namespace wsring::load
