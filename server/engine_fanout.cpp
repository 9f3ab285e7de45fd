// Fan-out: messages framed once into shared frames and queued to many connections by reference,
// to this thread's connections directly and to other threads' through their reactors' mailboxes
// (net::Reactor::post). A receiver's send starts at the end of the reactor turn that queued its
// output (flush_fanout from on_turn_end; a cross-thread batch flushes at its own end), so every
// broadcast of a turn reaches it in one send, and a sender's reply (a broadcastResult) leaves
// after the deliveries; under io_uring the sends of a turn are SQEs of one submission. A receiver with more than --max-backpressure unsent
// skips the message or is closed (--slow-receiver), so one slow receiver never delays the others.
#include <new>

#include "core/close.hpp"
#include "server/engine.hpp"

namespace wsring::server {

ReactorThreads::ReactorThreads(unsigned count, MemoryBudget& budget) : reactors(count) {
  for (unsigned i = 0; i < count; ++i) pools.push_back(std::make_unique<SharedFramePool>(budget));
}

void Engine::join_threads(ReactorThreads& threads, unsigned index) {
  threads_ = &threads;
  thread_index_ = index;
  frames_ = threads.pools[index].get();
}

SharedFrame* Engine::frame(core::Opcode opcode, std::initializer_list<std::string_view> parts,
                           std::string_view key) {
  SharedFrame* f = frames_->make(opcode, parts, key);
  if (!f) ++stats_.memory_refusals;
  return f;
}

Connection* Engine::fanout_target(net::Token token, size_t bytes) {
  cut_current_region();
  if (token >= connections_.size()) return nullptr;
  Connection& c = connections_[token];
  if (c.state != ConnState::Open) return nullptr;
  if (c.out && c.out->queued_bytes() + bytes > config_.max_backpressure) {
    slow_receiver(c);
    return nullptr;
  }
  return &c;
}

void Engine::slow_receiver(Connection& c) {
  if (config_.slow_receiver_close) {
    ++stats_.slow_receivers_closed;
    log_.debug("connection %u: slow receiver closed (more than --max-backpressure unsent)", c.token);
    queue_close(c, core::close_code::policy_violation, "slow receiver: more than --max-backpressure unsent");
    if (&c != consuming_) flush(c);
    return;
  }
  ++stats_.fanout_skipped;
  try {
    if (skipped_.size() <= c.token) skipped_.resize(size_t(c.token) + 1);
    ++skipped_[c.token];
  } catch (const std::bad_alloc&) {  // the per-connection count is lost, not the process
  }
}

bool Engine::deliver(net::Token token, SharedFrame& f) {
  f.add_refs(1);
  return deliver_referenced(token, f);
}

size_t Engine::deliver_all(std::span<const net::Token> tokens, SharedFrame& f) {
  f.add_refs(uint32_t(tokens.size()));
  size_t delivered = 0;
  for (const net::Token t : tokens) delivered += deliver_referenced(t, f);
  return delivered;
}

// Queues f to token with a reference taken for it, which this uses up either way: the queue
// holds it, or it is dropped with the turn's releases (the caller's own keeps f alive).
bool Engine::deliver_referenced(net::Token token, SharedFrame& f) {
  Connection* c = fanout_target(token, f.size());
  if (!c) {
    shared_releases_.add(&f);
    return false;
  }
  if (!queue(*c, Segment{f.data(), f.size(), Owner::Shared, 0, reinterpret_cast<uint8_t*>(&f)})) return false;
  ++stats_.fanout_deliveries;
  if (c != consuming_) flush_later(*c);
  return true;
}

bool Engine::send_to(net::Token token, core::Opcode opcode, const void* data, size_t size) {
  Connection* c = fanout_target(token, size + core::kMaxServerHeaderSize);
  if (!c || !send_message(*c, opcode, static_cast<const uint8_t*>(data), size)) return false;
  if (c != consuming_) flush_later(*c);
  return true;
}

void Engine::close(net::Token token, uint16_t code, std::string_view reason) {
  cut_current_region();
  if (token >= connections_.size()) return;
  Connection& c = connections_[token];
  queue_close(c, code, reason);
  if (&c != consuming_) flush(c);
}

void Engine::flush_later(Connection& c) {
  if (c.fanout_pending) return;
  try {
    fanout_pending_.push_back(c.token);
  } catch (const std::bad_alloc&) {
    flush(c);  // no room to remember it: send now
    return;
  }
  c.fanout_pending = true;
}

void Engine::flush_fanout() {
  // Index, don't iterate: a flush may fail a connection, never queue more fan-out.
  for (size_t i = 0; i < fanout_pending_.size(); ++i) {
    Connection& c = connections_[fanout_pending_[i]];
    c.fanout_pending = false;
    flush(c);
  }
  fanout_pending_.clear();
}

// The application's sliced work (a push tick too large for one turn), then its sends.
bool Engine::app_turn_end() {
  bool more = false;
  try {
    more = app_.on_turn_end();
  } catch (const std::bad_alloc&) {
    ++stats_.memory_refusals;
  }
  flush_fanout();
  shared_releases_.flush();
  return more;
}

// One reference per thread it goes to; the receiving engine drops it after on_shared.
void Engine::post_to_other_threads(SharedFrame& f) {
  if (!threads_) return;
  for (size_t i = 0; i < threads_->reactors.size(); ++i) {
    if (i == thread_index_) continue;
    net::Reactor* r = threads_->reactors[i].load(std::memory_order_acquire);
    if (!r) continue;  // not serving (yet, or any more): it has no connections
    f.add_refs(1);
    if (!reactor_.post(*r, reinterpret_cast<uint64_t>(&f))) {
      f.release();
      ++stats_.fanout_post_failures;
    }
  }
}

void Engine::on_message(uint64_t value) {
  SharedFrame* f = reinterpret_cast<SharedFrame*>(value);
  try {
    app_.on_shared(*f);
  } catch (const std::bad_alloc&) {
    ++stats_.memory_refusals;
  }
  f->release();
  flush_fanout();
  shared_releases_.flush();
}

}  // namespace wsring::server
