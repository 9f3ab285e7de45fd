#include "bench/load/scenario_push.hpp"

#include <algorithm>
#include <cstring>

namespace wsring::load {

bool parse_scenario(std::string_view text, Scenario& out) {
  if (text == "echo") out = Scenario::Echo;
  else if (text == "push") out = Scenario::Push;
  else if (text == "shootout") out = Scenario::Shootout;
  else if (text == "pubsub") out = Scenario::Pubsub;
  else return false;
  return true;
}

const char* scenario_name(Scenario scenario) {
  switch (scenario) {
    case Scenario::Echo: return "echo";
    case Scenario::Push: return "push";
    case Scenario::Shootout: return "shootout";
    case Scenario::Pubsub: return "pubsub";
  }
  return "?";
}

void SequenceCounts::merge(const SequenceCounts& o) {
  received += o.received;
  lost += o.lost;
  out_of_order += o.out_of_order;
  duplicates += o.duplicates;
  stale += o.stale;
  short_messages += o.short_messages;
}

void SequenceTracker::mark(uint64_t seq, bool on) {
  uint64_t& word = bits_[(seq % kWindow) / 64];
  const uint64_t bit = uint64_t{1} << (seq % 64);
  word = on ? word | bit : word & ~bit;
}

void SequenceTracker::observe(uint64_t seq, SequenceCounts& counts) {
  ++counts.received;
  if (seq >= next_) {
    const uint64_t skipped = seq - next_;
    counts.lost += skipped;
    // The skipped numbers' bits (at most a window's worth) must read "not arrived".
    if (skipped >= kWindow) std::fill(std::begin(bits_), std::end(bits_), 0);
    else for (uint64_t s = next_; s < seq; ++s) mark(s, false);
    mark(seq, true);
    next_ = seq + 1;
    return;
  }
  if (next_ - seq > kWindow) {
    ++counts.stale;  // too old to tell a late arrival from a duplicate
    return;
  }
  if (seen(seq)) {
    ++counts.duplicates;
    return;
  }
  mark(seq, true);
  ++counts.out_of_order;
  --counts.lost;  // it was counted lost when a higher number came first
}

PushHeader decode_push_header(const uint8_t* b) {
  PushHeader h;
  for (int i = 7; i >= 0; --i) h.send_ns = h.send_ns << 8 | b[i];
  for (int i = 7; i >= 0; --i) h.seq = h.seq << 8 | b[8 + i];
  return h;
}

void encode_push_header(const PushHeader& h, uint8_t* b) {
  for (int i = 0; i < 8; ++i) b[i] = uint8_t(h.send_ns >> (8 * i));
  for (int i = 0; i < 8; ++i) b[8 + i] = uint8_t(h.seq >> (8 * i));
}

bool PushStreams::on_chunk(size_t local, const uint8_t* data, size_t size, bool message_start, bool message_end,
                           PushHeader& header, SequenceCounts& counts) {
  Stream& s = streams_[local];
  if (message_start) s.head_len = 0;
  const size_t take = std::min<size_t>(size, kPushHeaderSize - s.head_len);
  std::memcpy(s.head + s.head_len, data, take);
  s.head_len = uint8_t(s.head_len + take);
  if (!message_end) return false;
  if (s.head_len < kPushHeaderSize) {
    ++counts.short_messages;
    return false;
  }
  header = decode_push_header(s.head);
  s.tracker.observe(header.seq, counts);
  return true;
}

std::string sequence_counts_text(const SequenceCounts& c) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  return "  push           " + n(c.received) + " numbered, " + n(c.lost) + " lost, " + n(c.out_of_order) +
         " out of order, " + n(c.duplicates) + " duplicates, " + n(c.stale) + " too late to tell, " +
         n(c.short_messages) + " too short\n";
}

std::string sequence_counts_json(const SequenceCounts& c) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  return "{\"received\": " + n(c.received) + ", \"lost\": " + n(c.lost) + ", \"out_of_order\": " + n(c.out_of_order) +
         ", \"duplicates\": " + n(c.duplicates) + ", \"stale\": " + n(c.stale) +
         ", \"short\": " + n(c.short_messages) + "}";
}

}  // namespace wsring::load
