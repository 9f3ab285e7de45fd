// --scenario: what the connections do besides echo. push: they only receive, and every message
// carries its send time and a per-connection sequence number (the payload format of
// `wsring-echo --mode push`, bench/README.md): delivery latency comes from the first, loss,
// order and duplicates from the second. Pure accounting here; the worker feeds it
// (worker_scenario.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::load {

enum class Scenario : uint8_t {
  Echo,  // the default: every message sent comes back
  Push,  // receive only: stamped, numbered messages pushed by the server
  Shootout,  // the websocket-shootout broadcast step-up (scenario_shootout.hpp)
  Pubsub,    // topics: publishers at a rate, subscribers check every delivery (scenario_pubsub.hpp)
};

// "echo", "push", "shootout" or "pubsub"; false for anything else.
bool parse_scenario(std::string_view text, Scenario& out);
const char* scenario_name(Scenario scenario);

// What the sequence numbers of received messages said, summed over streams.
struct SequenceCounts {
  uint64_t received = 0;      // messages that carried a sequence number (duplicates included)
  uint64_t lost = 0;          // skipped numbers that never came (a late arrival takes its number back)
  uint64_t out_of_order = 0;  // came after a higher number (and filled its gap)
  uint64_t duplicates = 0;    // a number that had come already
  uint64_t stale = 0;         // came more than SequenceTracker::kWindow behind: stays counted lost
  uint64_t short_messages = 0;  // fewer than 16 payload bytes: no stamp to read

  void merge(const SequenceCounts& other);
};

// One stream numbered from 0 (one connection's pushes). Remembers which of the last kWindow
// numbers arrived, so that a late arrival is told from a duplicate.
class SequenceTracker {
 public:
  static constexpr uint64_t kWindow = 256;

  void observe(uint64_t seq, SequenceCounts& counts);
  uint64_t next() const { return next_; }  // one past the highest number seen

 private:
  bool seen(uint64_t seq) const { return (bits_[(seq % kWindow) / 64] >> (seq % 64)) & 1; }
  void mark(uint64_t seq, bool on);

  uint64_t next_ = 0;
  uint64_t bits_[kWindow / 64] = {};  // bit seq % kWindow, for seq in [next_ - kWindow, next_)
};

constexpr size_t kPushHeaderSize = 16;

// The first 16 payload bytes of a push message: send time (ns since the Unix epoch,
// CLOCK_REALTIME) and sequence number, both little-endian uint64.
struct PushHeader {
  uint64_t send_ns = 0;
  uint64_t seq = 0;
};
PushHeader decode_push_header(const uint8_t* bytes);  // kPushHeaderSize bytes
void encode_push_header(const PushHeader& header, uint8_t* bytes);  // for tests

// Per connection of one worker: the header of the message being received (it may arrive in
// pieces) and the connection's sequence tracker.
class PushStreams {
 public:
  explicit PushStreams(size_t connections) : streams_(connections) {}

  void reset(size_t local) { streams_[local] = Stream{}; }  // a new connection: numbers from 0 again
  // A chunk of a data message's payload. At the message's end: true with `header` set when it
  // carried one (the tracker has seen its number), false when it was too short.
  bool on_chunk(size_t local, const uint8_t* data, size_t size, bool message_start, bool message_end,
                PushHeader& header, SequenceCounts& counts);

 private:
  struct Stream {
    SequenceTracker tracker;
    uint8_t head[kPushHeaderSize] = {};
    uint8_t head_len = 0;
  };
  std::vector<Stream> streams_;
};

// The report's lines: the summary's (after "mismatched") and the JSON's `"push": {...}` member.
std::string sequence_counts_text(const SequenceCounts& counts);
std::string sequence_counts_json(const SequenceCounts& counts);

}  // namespace wsring::load
