// --scenario pubsub, the worker's part (the protocol: bench/README.md, "pubsub"): subscribe each
// connection to its topic, publish the run's messages whose publisher is ours at their due time,
// and check every delivery (topic, sequence, latency). The rule that maps connections, topics,
// publishers and message numbers is in scenario_pubsub.hpp.
#include <algorithm>
#include <cstring>

#include "bench/load/worker.hpp"
#include "core/frame.hpp"
#include "core/unmask.hpp"

namespace wsring::load {

namespace {

constexpr size_t kPubsubReplyWindow = 64;  // "MSG t<topic> " and the 16-byte stamp fit

}  // namespace

bool LoadWorker::write_text_or_binary(Connection& c, core::Opcode opcode, const uint8_t* payload, size_t size) {
  const size_t header = core::frame_header_size(size, true);
  if (c.state != ConnState::Open || header + size > room(c, 2 * kControlFrameMax)) return false;
  uint8_t* dst = c.buf[c.fill] + c.fill_len;
  uint8_t key[4];
  masks_.next(key);
  core::write_frame_header(dst, opcode, true, size, key);
  std::memcpy(dst + header, payload, size);
  core::apply_mask(dst + header, size, key, 0);
  c.fill_len += uint32_t(header + size);
  return true;
}

void LoadWorker::pubsub_opened(Connection& c) {
  pubsub_seen_[c.local] = SequenceTracker{};
  const std::string sub = "SUB " + topic_name(topic_of_connection(c.global_id, options_.pubsub));
  if (!write_text_or_binary(c, core::Opcode::Text, reinterpret_cast<const uint8_t*>(sub.data()), sub.size()))
    count_error(ErrorKind::SendError, "connection " + std::to_string(c.global_id) + ": no room for its SUB");
}

void LoadWorker::pubsub_tick(uint64_t now) {
  const uint64_t start = pubsub_->start_ns.load(std::memory_order_acquire);
  if (start == 0 || now < start || draining_) return;
  const PubsubOptions& o = options_.pubsub;
  // Messages 0 .. due-1 are due: message k at start + k / rate.
  const uint64_t due = uint64_t(double(now - start) * o.rate / 1e9) + 1;
  const uint64_t real_offset = realtime_clock_ns() - now;  // run clock -> CLOCK_REALTIME, for the stamp
  std::vector<uint32_t> touched;
  uint8_t message[kPubsubPayloadMax + 32];
  for (; pubsub_next_ < due; ++pubsub_next_) {
    const uint64_t k = pubsub_next_;
    const uint32_t topic = topic_of_message(k, o);
    const uint32_t publisher = publisher_of_topic(topic, o);  // its connection's global id
    if (publisher % plan_.workers != plan_.index) continue;
    Connection& c = connections_[publisher / plan_.workers];
    const uint64_t intended = start + uint64_t(double(k) * 1e9 / o.rate);
    const size_t size = encode_publish(topic, intended + real_offset, sequence_of_message(k, o), o.payload_size, message);
    if (!write_text_or_binary(c, core::Opcode::Binary, message, size)) {
      ++totals_.dropped;  // the publisher is not open, or its send buffer is full: never published
      continue;
    }
    pubsub_->published(topic).fetch_add(1, std::memory_order_relaxed);
    live_.sent.add();
    live_.bytes_sent.add(size);
    const uint64_t lag = now > intended ? now - intended : 0;
    totals_.send_lag_us.record((lag + 500) / 1000);
    if (lag > kLateSendNs) ++totals_.late;
    if (std::find(touched.begin(), touched.end(), c.local) == touched.end()) touched.push_back(c.local);
  }
  for (const uint32_t local : touched) flush(local, connections_[local]);
}

void LoadWorker::on_pubsub_chunk(Connection& c, const core::ReadEvent& ev, uint64_t now) {
  if (!gather_reply(c, ev, kPubsubReplyWindow)) return;
  const PubsubReply r = decode_pubsub_reply(c.reply_head);
  const uint32_t topic = topic_of_connection(c.global_id, options_.pubsub);
  const std::string who = "connection " + std::to_string(c.global_id) + ": ";
  if (r.kind == PubsubReplyKind::SubscribeOk && r.topic == topic && !pubsub_subscribed_[c.local]) {
    pubsub_subscribed_[c.local] = 1;
    pubsub_->subscribers(topic).fetch_add(1, std::memory_order_relaxed);
    pubsub_->subscribed.fetch_add(1, std::memory_order_release);
    return;
  }
  if (r.kind != PubsubReplyKind::Message || r.topic != topic) {
    count_error(ErrorKind::UnexpectedMessage, who + "a message that is no delivery of its topic " + topic_name(topic));
    return;
  }
  if (!r.has_header) {
    ++totals_.push.short_messages;
    count_error(ErrorKind::Mismatch, who + "a delivery without the 16-byte stamp");
    return;
  }
  const uint64_t repeats = totals_.push.duplicates + totals_.push.stale;
  pubsub_seen_[c.local].observe(r.seq, totals_.push);
  if (totals_.push.duplicates + totals_.push.stale != repeats) {
    count_error(ErrorKind::UnexpectedMessage, who + "message " + std::to_string(r.seq) + " of " +
                                                  topic_name(topic) + " received twice");
    return;
  }
  pubsub_->delivered(topic).fetch_add(1, std::memory_order_relaxed);
  record_delivery(r.send_ns, now);
}

}  // namespace wsring::load
