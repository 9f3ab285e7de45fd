// Message bodies from a template (--message) or a file of messages (--messages-file, JSON lines:
// one message per line, used round-robin), for servers that expect their own format rather than
// wsring-load's stamped payloads. Placeholders, replaced in every message:
//   {seq}    the message's sequence number on its connection (0, 1, 2, ...)
//   {conn}   the connection's number (0 to connections - 1)
//   {id}     a correlation id unique in the run: seq * connections + conn (below 2^53 for any
//            run that ends this year, so a JavaScript server keeps it exact)
//   {ts_ns}  the message's send time (its intended time with --rate), in ns since the run began
// Any other brace is written as it is, so JSON templates need no escaping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::load {

struct MessageFields {
  uint64_t seq = 0, conn = 0, id = 0, ts_ns = 0;
};

class MessageSource {
 public:
  bool empty() const { return templates_.empty(); }
  // --message TEMPLATE. False with `error` set (one line, without the flag).
  bool add_template(std::string_view text, std::string& error);
  // --messages-file FILE: each non-empty line is a template. False with `error` set.
  bool load_file(const std::string& path, std::string& error);
  bool every_template_has_id() const;
  size_t max_size() const;  // an upper bound of a rendered message
  size_t count() const { return templates_.size(); }
  // Renders message number `index` (round-robin over the templates) into `out`.
  void render(uint64_t index, const MessageFields& fields, std::string& out) const;

 private:
  enum class Field : uint8_t { Literal, Seq, Conn, Id, TsNs };
  struct Part {
    Field field;
    uint32_t offset, length;  // the literal's bytes in the template's text
  };
  struct Template {
    std::string text;
    std::vector<Part> parts;
    bool has_id = false;
  };
  static Template parse(std::string_view text);
  std::vector<Template> templates_;
};

// --match id: the correlation id in a reply, found as the first `"id"` key in its first
// kReplyIdWindow bytes, followed by optional spaces, `:`, optional spaces and a whole number
// (optionally in double quotes). False when there is none.
constexpr size_t kReplyIdWindow = 256;
bool find_reply_id(std::string_view reply, uint64_t& id);

}  // namespace wsring::load
