// Messages from templates (--message, --messages-file) and replies matched by id (--match id).
#include "bench/load/worker.hpp"

namespace wsring::load {

void LoadWorker::render_message(Connection& c, uint64_t stamp_ns) {
  MessageFields f;
  f.seq = c.next_seq;
  f.conn = c.global_id;
  f.id = c.next_seq * options_.connections + c.global_id;
  f.ts_ns = stamp_ns;
  // Round-robin over the templates, each connection starting at its own.
  options_.messages_from.render(c.next_seq + c.global_id, f, rendered_);
}

uint64_t LoadWorker::answered_early(const Connection& c) const {
  if (options_.match != MatchMode::Id) return 0;
  uint64_t n = 0;
  for (uint64_t seq = c.acked_seq; seq < c.next_seq; ++seq)
    n += (ring_size_[size_t(c.local) * pipeline_ + seq % pipeline_] & kRingAnswered) != 0;
  return n;
}

void LoadWorker::finish_reply_by_id(Connection& c, uint64_t now) {
  c.msg_active = false;
  uint64_t id = 0;
  if (!find_reply_id(c.reply_head, id)) {
    live_.unsolicited.add();  // no id: a notification, not an answer
    return;
  }
  const uint64_t seq = id / options_.connections;
  const size_t slot = size_t(c.local) * pipeline_ + seq % pipeline_;
  if (id % options_.connections != c.global_id || seq < c.acked_seq || seq >= c.wire_seq ||
      (ring_size_[slot] & kRingAnswered)) {
    live_.mismatched.add();
    count_error(ErrorKind::Mismatch, "connection " + std::to_string(c.global_id) + ": a reply with id " +
                                         std::to_string(id) + " answers no message outstanding (" +
                                         std::to_string(c.acked_seq) + " to " + std::to_string(c.wire_seq) + " sent)");
    return;
  }
  ring_size_[slot] |= kRingAnswered;
  live_.received.add();
  live_.bytes_received.add(c.msg_offset);
  const uint64_t sent_at = ring_time_[slot];
  totals_.latency_us.record((now > sent_at ? now - sent_at + 500 : 500) / 1000);
  live_.last_echo_ns.set(now);
  // Replies may come out of order: the window moves past every answered message at its front.
  while (c.acked_seq < c.wire_seq && (ring_size_[size_t(c.local) * pipeline_ + c.acked_seq % pipeline_] & kRingAnswered)) {
    ++c.acked_seq;
    --outstanding_total_;
  }
}

}  // namespace wsring::load
