// --scenario pubsub: topics, publishers, subscribers (the protocol of wsring-echo --mode pubsub,
// bench/README.md). Connection g subscribes to topic "t<g mod N>" (N = --topics); topic t is
// published by publisher t mod P (P = --publishers, the connections 0..P-1). The run's messages
// are numbered k = 0, 1, ... at --rate in all: message k goes to topic k mod N with sequence
// number k div N on that topic, and carries its send time, so every subscriber checks latency,
// loss, order and duplicates per topic. This header is the sans-I/O part (flags, messages, the
// shared board); worker_pubsub.cpp sends and receives.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace wsring::load {

constexpr uint64_t kPubsubPayloadMax = 4000;  // --size's bound: a publish is built on the stack

struct PubsubOptions {
  uint32_t topics = 1;        // --topics
  uint32_t publishers = 1;    // --publishers
  double rate = 100;          // --rate: publishes per second in all (taken from LoadOptions::rate)
  uint64_t payload_size = 32; // --size: the stamp (16 bytes) and zero filler
  std::string first_flag;     // the first of --topics/--publishers given (they need --scenario pubsub)
};

bool is_pubsub_flag(std::string_view name);
// One flag of the group; false with `error` (one line naming the flag).
bool parse_pubsub_flag(std::string_view name, std::string_view value, PubsubOptions& options, std::string& error);
extern const char kPubsubUsage[];

// "t17": the topic of number `topic`.
std::string topic_name(uint32_t topic);
inline uint32_t topic_of_connection(uint32_t global_id, const PubsubOptions& o) { return global_id % o.topics; }
inline uint32_t topic_of_message(uint64_t k, const PubsubOptions& o) { return uint32_t(k % o.topics); }
inline uint64_t sequence_of_message(uint64_t k, const PubsubOptions& o) { return k / o.topics; }
inline uint32_t publisher_of_topic(uint32_t topic, const PubsubOptions& o) { return topic % o.publishers; }

// Writes "PUB <topic> " and the payload (send time and sequence, kPushHeaderSize bytes, then
// zeros up to payload_size) into `out`; returns the size.
size_t encode_publish(uint32_t topic, uint64_t send_ns, uint64_t seq, uint64_t payload_size, uint8_t* out);
// The largest publish message for these options.
size_t publish_size_max(const PubsubOptions& options);

enum class PubsubReplyKind : uint8_t { Message, SubscribeOk, Other };
struct PubsubReply {
  PubsubReplyKind kind = PubsubReplyKind::Other;
  uint32_t topic = 0;          // the topic's number ("t<number>")
  bool has_header = false;     // a Message with at least kPushHeaderSize payload bytes
  uint64_t send_ns = 0, seq = 0;
};
// "MSG t<n> <payload>" or "OK SUB t<n>" (the message's first bytes; `message` may be cut after
// the stamp). Anything else is Other.
PubsubReply decode_pubsub_reply(std::string_view message);

// Shared by the threads: how many clients are subscribed, when publishing started, and per
// topic how many messages were published and how many deliveries arrived (first copies).
class PubsubBoard {
 public:
  explicit PubsubBoard(uint32_t topics)
      : published_(new std::atomic<uint64_t>[topics]()), delivered_(new std::atomic<uint64_t>[topics]()),
        subscribers_(new std::atomic<uint64_t>[topics]()), topics_(topics) {}
  std::atomic<uint32_t> subscribed{0};   // clients whose SUB was acknowledged
  std::atomic<uint64_t> start_ns{0};     // run clock of message 0's due time; 0: not started
  std::atomic<uint64_t>& published(uint32_t topic) { return published_[topic]; }
  std::atomic<uint64_t>& delivered(uint32_t topic) { return delivered_[topic]; }
  std::atomic<uint64_t>& subscribers(uint32_t topic) { return subscribers_[topic]; }
  uint32_t topics() const { return topics_; }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> published_, delivered_, subscribers_;
  uint32_t topics_;
};

// What the board says at the end, and the JSON member (", \n" ended) and summary line.
struct PubsubTotals {
  uint64_t published = 0, expected = 0, delivered = 0, lost = 0;
  uint64_t dropped = 0;  // due but never sent: the publisher not open, or its send buffer full
};
PubsubTotals pubsub_totals(PubsubBoard& board);
struct SequenceCounts;
std::string pubsub_summary_text(const PubsubOptions& options, const PubsubTotals& totals, const SequenceCounts& counts);
std::string pubsub_json_member(const PubsubOptions& options, const PubsubTotals& totals, const SequenceCounts& counts);

}  // namespace wsring::load
