// --scenario shootout, the worker's part (the protocol: bench/README.md, "shootout"): open the
// clients the board targets, send the broadcasts main assigned to this worker, and account for
// every broadcast and broadcastResult received. Main's ShootoutDriver does the timing.
#include <algorithm>

#include "bench/load/worker.hpp"

namespace wsring::load {

namespace {

constexpr size_t kShootoutReplyWindow = 256;  // bytes of a reply kept: the type and the id come first

std::string printable_head(std::string_view text) {
  std::string out;
  for (const char ch : text.substr(0, 48)) out += (ch >= 0x20 && ch < 0x7F) ? ch : '.';
  return out;
}

}  // namespace

void LoadWorker::shootout_tick(uint64_t now) {
  const uint32_t target = shootout_->target_clients.load(std::memory_order_acquire);
  const uint32_t want =
      std::min<uint32_t>(local_count(target, plan_.workers, plan_.index), uint32_t(connections_.size()));
  if (want > shootout_target_) {
    // Pushed highest first: start_connects pops from the back, so the lowest slot opens first.
    for (uint32_t l = want; l-- > shootout_target_;) ready_.push_back(l);
    shootout_target_ = want;
    start_connects(now);
  }
  const uint64_t issued = shootout_->issued.load(std::memory_order_acquire);
  for (; shootout_cursor_ < issued; ++shootout_cursor_) {
    BroadcastSlot& slot = shootout_->slot(shootout_cursor_);
    if (slot.sender_worker == plan_.index) send_broadcast(shootout_cursor_, slot);
  }
}

void LoadWorker::shootout_opened(Connection& c) {
  shootout_seen_[c.local] = SequenceTracker{};
  shootout_base_[c.local] = shootout_->issued.load(std::memory_order_acquire);
}

void LoadWorker::send_broadcast(uint64_t id, BroadcastSlot& slot) {
  const core::Opcode opcode =
      options_.shootout.format == ShootoutFormat::Binary ? core::Opcode::Binary : core::Opcode::Text;
  uint8_t payload[kShootoutMessageMax];
  const size_t size = encode_broadcast_request(options_.shootout.format, id, payload);
  for (uint32_t tries = 0; tries < shootout_target_; ++tries) {
    Connection& c = connections_[shootout_next_sender_++ % shootout_target_];
    if (!write_text_or_binary(c, opcode, payload, size)) continue;  // not open, or no room
    slot.sender_id.store(c.global_id, std::memory_order_relaxed);
    slot.send_ns.store(now_ns(), std::memory_order_release);
    live_.sent.add();
    live_.bytes_sent.add(size);
    flush(c.local, c);
    return;
  }
  slot.unsent.store(true, std::memory_order_release);  // no open client here: main ends the run
}

void LoadWorker::count_stray(Connection& c, const std::string& why) {
  count_error(ErrorKind::UnexpectedMessage, "connection " + std::to_string(c.global_id) + ": " + why);
}

void LoadWorker::on_shootout_chunk(Connection& c, const core::ReadEvent& ev, uint64_t now) {
  if (!gather_reply(c, ev, kShootoutReplyWindow)) return;
  const ShootoutReply r = decode_shootout_reply(options_.shootout.format, c.reply_head);
  const uint64_t issued = shootout_->issued.load(std::memory_order_acquire);
  if (r.kind == ShootoutReplyKind::Other || !r.has_id || r.id >= issued) {
    count_stray(c, "a message that answers no broadcast of ours: '" + printable_head(c.reply_head) + "'");
    return;
  }
  BroadcastSlot& slot = shootout_->slot(r.id);
  if (r.kind == ShootoutReplyKind::Result) {
    if (slot.sender_id.load(std::memory_order_relaxed) != c.global_id) {
      count_stray(c, "the broadcastResult of broadcast " + std::to_string(r.id) + " came to another client than its sender");
    } else if (slot.result_ns.load(std::memory_order_relaxed) != 0) {
      slot.duplicates.fetch_add(1, std::memory_order_relaxed);
      count_stray(c, "the broadcastResult of broadcast " + std::to_string(r.id) + " received twice");
    } else {
      slot.result_ns.store(now, std::memory_order_release);
    }
    return;
  }
  live_.received.add();
  const uint64_t base = shootout_base_[c.local];
  if (r.id < base) {
    count_stray(c, "broadcast " + std::to_string(r.id) + " was sent before this client opened");
    return;
  }
  const uint64_t repeats = shootout_counts_.duplicates + shootout_counts_.stale;
  shootout_seen_[c.local].observe(r.id - base, shootout_counts_);
  if (shootout_counts_.duplicates + shootout_counts_.stale != repeats) {
    slot.duplicates.fetch_add(1, std::memory_order_relaxed);
    count_stray(c, "broadcast " + std::to_string(r.id) + " received twice");
    return;
  }
  slot.record_receipt(now);
}

}  // namespace wsring::load
