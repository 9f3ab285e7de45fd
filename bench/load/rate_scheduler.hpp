// Open-loop pacing for --rate (as wrk2 does it): every message has an intended send time fixed in
// advance, whatever happened to the previous ones, and its latency is measured from that time, so
// a stalled server is charged for the messages it delayed (no coordinated omission).
//
// R messages/s over N connections, spread evenly: message k of the connection with global id c
// (0 <= c < N) is due at start + (k*N + c) / R. Across all connections (and threads) the sends
// are then exactly 1/R apart, each connection sending every N/R. A worker owns the connections
// first, first+stride, first+2*stride, ... so in time order its messages visit its connections
// round-robin: finding the next due message is O(1), with no queue.
#pragma once

#include <cstdint>

namespace wsring::load {

class RateScheduler {
 public:
  // total_rate: messages per second over all N connections of all workers.
  RateScheduler(double total_rate, uint32_t total_connections, uint32_t first_global_id, uint32_t stride,
                uint32_t local_count);

  // Fixes time zero (nanoseconds on the caller's clock) and rewinds to the first message.
  void start(uint64_t start_ns);

  // Intended send time of message `sequence` of local connection `local` (its global id is
  // first + local*stride).
  uint64_t intended_ns(uint32_t local, uint64_t sequence) const;

  // The next message in time order: which local connection, which of its messages, and when.
  uint32_t next_local() const { return next_local_; }
  uint64_t next_sequence() const { return next_sequence_; }
  uint64_t next_ns() const { return next_ns_; }
  bool due(uint64_t now_ns) const { return local_count_ != 0 && next_ns_ <= now_ns; }
  // Moves on to the message after next.
  void advance();

  double interval_ns() const { return interval_ns_; }  // between two sends over all connections

 private:
  double interval_ns_;
  uint32_t total_connections_;
  uint32_t first_;
  uint32_t stride_;
  uint32_t local_count_;
  uint64_t start_ns_ = 0;
  uint32_t next_local_ = 0;
  uint64_t next_sequence_ = 0;
  uint64_t next_ns_ = 0;
};

}  // namespace wsring::load
