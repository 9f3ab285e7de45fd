// --scenario push: the connections only receive. Each message's first 16 payload bytes are its
// send time (CLOCK_REALTIME ns) and its number on that connection (bench/README.md, "push").
// Also what the receive-only scenarios share: a delivery's latency, a reply's first bytes.
#include <time.h>

#include <algorithm>

#include "bench/load/worker.hpp"

namespace wsring::load {

uint64_t realtime_clock_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

void LoadWorker::record_delivery(uint64_t send_realtime_ns, uint64_t now) {
  live_.received.add();
  live_.last_echo_ns.set(now);
  // Latency only in the measured window: not while connections are still opening.
  if (!running_ || draining_) return;
  const uint64_t real = realtime_clock_ns();
  const uint64_t latency_us = ((real > send_realtime_ns ? real - send_realtime_ns : 0) + 500) / 1000;
  totals_.latency_us.record(latency_us);
  if (plan_.latency_intervals) plan_.latency_intervals->record(now, latency_us);
}

bool LoadWorker::gather_reply(Connection& c, const core::ReadEvent& ev, size_t window) {
  if (ev.frame_start && ev.frame_opcode != core::Opcode::Continuation) c.reply_head.clear();
  live_.bytes_received.add(ev.payload_size);
  if (c.reply_head.size() < window)
    c.reply_head.append(reinterpret_cast<const char*>(ev.payload),
                        std::min<size_t>(ev.payload_size, window - c.reply_head.size()));
  return ev.message_end;
}

void LoadWorker::on_push_chunk(Connection& c, const core::ReadEvent& ev, uint64_t now) {
  const bool start = ev.frame_start && ev.frame_opcode != core::Opcode::Continuation;
  live_.bytes_received.add(ev.payload_size);
  PushHeader header;
  if (!push_->on_chunk(c.local, ev.payload, ev.payload_size, start, ev.message_end, header, totals_.push)) return;
  record_delivery(header.send_ns, now);
}

}  // namespace wsring::load
