#include "bench/load/scenario_pubsub.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "bench/load/scenario_push.hpp"
#include "server/cli_values.hpp"

namespace wsring::load {

const char kPubsubUsage[] =
    "\n"
    "--scenario pubsub (topics; wsring-echo --mode pubsub; bench/README.md):\n"
    "  --topics N                topics, 1 to 1000000 (default 1); connection g subscribes to topic g mod N\n"
    "  --publishers P            publishing connections (the first P), 1 to --connections (default 1);\n"
    "                            topic t is published by publisher t mod P\n"
    "  --rate R                  publishes per second in all (default 100), round-robin over the topics\n"
    "  --size SIZE               payload bytes after \"PUB topic \", 16 to 4000 (default 32): the stamp, then zeros\n";

bool is_pubsub_flag(std::string_view name) { return name == "--topics" || name == "--publishers"; }

bool parse_pubsub_flag(std::string_view name, std::string_view value, PubsubOptions& o, std::string& error) {
  uint64_t n = 0;
  const std::string flag(name);
  if (o.first_flag.empty()) o.first_flag = flag;
  if (name == "--topics") {
    if (!cli::parse_count_flag(flag, value, 1, 1000000, n, error)) return false;
    o.topics = uint32_t(n);
  } else {
    if (!cli::parse_count_flag(flag, value, 1, 1u << 24, n, error)) return false;
    o.publishers = uint32_t(n);
  }
  return true;
}

std::string topic_name(uint32_t topic) { return "t" + std::to_string(topic); }

size_t encode_publish(uint32_t topic, uint64_t send_ns, uint64_t seq, uint64_t payload_size, uint8_t* out) {
  const std::string head = "PUB " + topic_name(topic) + " ";
  std::memcpy(out, head.data(), head.size());
  uint8_t* payload = out + head.size();
  encode_push_header(PushHeader{send_ns, seq}, payload);
  std::memset(payload + kPushHeaderSize, 0, payload_size - kPushHeaderSize);
  return head.size() + payload_size;
}

size_t publish_size_max(const PubsubOptions& o) {
  return 4 + topic_name(o.topics - 1).size() + 1 + o.payload_size;
}

namespace {

// "t<digits>" at the start of `s`, up to a space or the end. False if it is not one of ours.
bool parse_topic(std::string_view s, uint32_t& topic, size_t& length) {
  if (s.size() < 2 || s[0] != 't') return false;
  uint64_t n = 0;
  size_t i = 1;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 11; ++i) n = n * 10 + uint64_t(s[i] - '0');
  if (i == 1 || (i < s.size() && s[i] != ' ') || n > 0xFFFFFFFFu) return false;
  topic = uint32_t(n);
  length = i;
  return true;
}

}  // namespace

PubsubReply decode_pubsub_reply(std::string_view m) {
  PubsubReply r;
  size_t length = 0;
  if (m.substr(0, 4) == "MSG ") {
    if (!parse_topic(m.substr(4), r.topic, length) || 4 + length >= m.size()) return r;
    r.kind = PubsubReplyKind::Message;
    const std::string_view payload = m.substr(4 + length + 1);
    if (payload.size() >= kPushHeaderSize) {
      const PushHeader h = decode_push_header(reinterpret_cast<const uint8_t*>(payload.data()));
      r.send_ns = h.send_ns;
      r.seq = h.seq;
      r.has_header = true;
    }
  } else if (m.substr(0, 7) == "OK SUB ") {
    if (parse_topic(m.substr(7), r.topic, length) && 7 + length == m.size()) r.kind = PubsubReplyKind::SubscribeOk;
  }
  return r;
}

PubsubTotals pubsub_totals(PubsubBoard& board) {
  PubsubTotals t;
  for (uint32_t topic = 0; topic < board.topics(); ++topic) {
    const uint64_t published = board.published(topic).load();
    t.published += published;
    t.expected += published * board.subscribers(topic).load();
    t.delivered += board.delivered(topic).load();
  }
  t.lost = t.expected > t.delivered ? t.expected - t.delivered : 0;
  return t;
}

}  // namespace wsring::load

namespace wsring::load {

std::string pubsub_summary_text(const PubsubOptions& o, const PubsubTotals& t, const SequenceCounts& c) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  return "  pubsub         " + n(o.topics) + " topics, " + n(o.publishers) + " publishers: " + n(t.published) +
         " published, " + n(t.dropped) + " dropped, " + n(t.delivered) + " of " + n(t.expected) + " deliveries, " +
         n(t.lost) + " lost, " + n(c.out_of_order) + " out of order, " + n(c.duplicates) + " duplicates\n";
}

std::string pubsub_json_member(const PubsubOptions& o, const PubsubTotals& t, const SequenceCounts& c) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g", o.rate);
  return "  \"pubsub\": {\"topics\": " + n(o.topics) + ", \"publishers\": " + n(o.publishers) + ", \"rate\": " + rate +
         ", \"payload_size\": " + n(o.payload_size) + ", \"published\": " + n(t.published) +
         ", \"dropped\": " + n(t.dropped) +
         ", \"expected_deliveries\": " + n(t.expected) + ", \"delivered\": " + n(t.delivered) + ", \"lost\": " +
         n(t.lost) + ", \"out_of_order\": " + n(c.out_of_order) + ", \"duplicates\": " + n(c.duplicates) +
         ", \"stale\": " + n(c.stale) + ", \"short\": " + n(c.short_messages) + "},\n";
}

}  // namespace wsring::load
