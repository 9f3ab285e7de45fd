// Output: strictly ordered, one send in flight per connection, everything queued meanwhile
// gathered into the next send. Receive processing only appends; one flush per receive batch
// starts at most one send. Memory: spilled output is charged to --max-memory; when the budget
// comes under pressure the peers holding the most stop being read, and past a grace time the
// largest holders are reset.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "server/engine.hpp"

namespace wsring::server {

namespace {

// How long the budget may stay under pressure before the largest holders are dropped.
constexpr uint64_t kMemoryGraceMs = 1000;

}  // namespace

Engine::SmallBuffer Engine::small_buffer() {
  if (uint8_t* b = write_pool_.acquire()) return SmallBuffer{b, write_pool_.buffer_size(), true};
  ++stats_.pool_exhausted;
  return SmallBuffer{scratch_, sizeof scratch_, false};
}

bool Engine::queue_small(Connection& c, const SmallBuffer& out, size_t n) {
  if (n == 0) {
    if (out.pooled) write_pool_.release(out.data);
    return false;
  }
  if (out.pooled) return queue(c, Segment::from_pool(Owner::WritePool, out.data, n));
  return queue_copy(c, out.data, n);
}

OutputQueue& Engine::output_of(Connection& c) {
  if (!c.out) {
    if (free_queues_.empty()) {
      all_queues_.push_back(std::make_unique<OutputQueue>(chunks_, *this));
      free_queues_.push_back(all_queues_.back().get());
    }
    c.out = free_queues_.back();
    free_queues_.pop_back();
  }
  return *c.out;
}

void Engine::give_back_output(Connection& c) {
  if (!c.out) return;
  c.out->reset();
  c.out->progress = {};
  free_queues_.push_back(c.out);
  c.out = nullptr;
}

// Appends to the connection's output; a connection that no longer sends gives the segment's
// owner straight back. False when the segment was not queued.
bool Engine::queue(Connection& c, const Segment& s) {
  if (c.state == ConnState::ClosingFd || c.state == ConnState::Free) {
    release(s);
    return false;
  }
  OutputQueue* q = output_or_null(c);
  if (!q) release(s);
  if (!q || !q->append(s)) {
    fail_for_memory(c);
    return false;
  }
  return true;
}

bool Engine::queue_copy(Connection& c, const uint8_t* data, size_t size) {
  if (c.state == ConnState::ClosingFd || c.state == ConnState::Free) return false;
  OutputQueue* q = output_or_null(c);
  if (!q || !q->append_copy(data, size)) {
    fail_for_memory(c);
    return false;
  }
  return true;
}

// output_of, or nullptr when a new queue cannot be allocated (an address-space limit).
OutputQueue* Engine::output_or_null(Connection& c) {
  try {
    return &output_of(c);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

// The transport seam's way out: plaintext leaves as it is (a TLS transport would encrypt the
// queued segments into pooled buffers here). At most one send in flight.
void Engine::flush(Connection& c) {
  if (!c.out || c.out->in_flight() || c.state == ConnState::ClosingFd) return;
  OutputQueue& q = *c.out;
  const int n = q.empty() ? 0 : q.prepare_send();
  if (n == 0) {  // nothing left: only owner markers were queued
    give_back_output(c);
    maybe_finish(c);
    return;
  }
  ++stats_.sends;
  reactor_.send(c.token, q.iov(), n);
}

void Engine::release(const Segment& s) {
  switch (s.owner) {
    case Owner::None: return;
    case Owner::RecvBuffer: reactor_.release_buffer(s.ring_id); return;
    case Owner::WritePool: write_pool_.release(s.buffer); return;
    case Owner::GatherPool: gather_pool_.release(s.buffer); return;
    case Owner::Chunk: chunks_.release(s.buffer); return;
  }
}

void Engine::on_send(net::Token t, int result) {
  Connection& c = connections_[t];
  try {
    sent(c, result);
  } catch (const std::bad_alloc&) {
    fail_for_memory(c);
  }
}

void Engine::sent(Connection& c, int result) {
  const net::Token t = c.token;
  OutputQueue& q = *c.out;
  if (result == -EAGAIN) {  // the peer's socket is full: hold its bytes, not our buffers
    ++stats_.spills;
    if (!q.on_socket_full()) {
      fail_for_memory(c);
      return;
    }
    if (q.progress.window_start_ms == 0) stalled_.push_back(t);
    watch_send_progress(c);
    check_backpressure(c);
    flush(c);
    return;
  }
  if (result < 0) {
    log_.debug("connection %u: send failed: %s", t, strerror(-result));
    close_now(c, true);
    return;
  }
  if (q.progress.window_start_ms != 0) q.progress.window_sent += uint64_t(result);
  q.on_sent(size_t(result));
  if (q.empty()) give_back_output(c);
  if (c.recv_paused && (!c.out || (c.out->queued_bytes() <= config_.max_backpressure / 2 &&
                                   !(c.out->stalled() && shared_.memory.under_pressure())))) {
    c.recv_paused = false;
    reactor_.resume_recv(t);
    schedule_timer(c, reactor_.now_ms());
    Session session(*this, c);
    app_.on_drain(session);
  }
  flush(c);
  maybe_finish(c);
}

void Engine::check_backpressure(Connection& c) {
  if (c.recv_paused || !c.out || c.state != ConnState::Open) return;
  // The peer reads slower than it writes: stop reading it until it drains. Under memory
  // pressure, so is every peer whose output had to be spilled.
  const bool over = c.out->queued_bytes() > config_.max_backpressure;
  const bool pressure = c.out->stalled() && shared_.memory.under_pressure();
  if (!over && !pressure) return;
  c.recv_paused = true;
  reactor_.pause_recv(c.token);
  watch_send_progress(c);
}

// From now on the peer must drain its output at --min-send-rate (see check_send_progress).
void Engine::watch_send_progress(Connection& c) {
  OutputQueue::Progress& p = c.out->progress;
  if (p.window_start_ms != 0) return;
  p.window_start_ms = reactor_.now_ms();
  p.window_sent = 0;
  schedule_timer(c, reactor_.now_ms());
}

void Engine::maybe_finish(Connection& c) {
  if (c.out) return;  // output left: on_send comes back here
  switch (c.state) {
    case ConnState::Responding:
    case ConnState::CloseSent:
    case ConnState::PeerDone:
      enter(c, ConnEvent::Flushed);  // WriteShut (FIN, wait for the peer) or ClosingFd
      return;
    default:
      return;
  }
}

void Engine::fail_for_memory(Connection& c) {
  ++stats_.memory_refusals;
  log_.debug("connection %u: output memory refused (--max-memory %llu bytes in use)", c.token,
             static_cast<unsigned long long>(shared_.memory.used()));
  close_now(c, true);
}

// Past the grace time under pressure, the connections holding the most spilled output are reset
// (their peers do not read, so a close frame could not reach them), largest first, until what
// they hold brings the budget back under the pressure mark.
void Engine::relieve_memory_pressure(uint64_t now_ms) {
  std::erase_if(stalled_, [&](net::Token t) {
    const Connection& c = connections_[t];
    return !c.out || !c.out->stalled() || c.state == ConnState::ClosingFd || c.state == ConnState::Free;
  });
  if (!shared_.memory.under_pressure()) {
    pressure_since_ms_ = 0;
    return;
  }
  if (pressure_since_ms_ == 0) pressure_since_ms_ = now_ms;
  if (now_ms < pressure_since_ms_ + kMemoryGraceMs || stalled_.empty()) return;
  std::sort(stalled_.begin(), stalled_.end(), [&](net::Token a, net::Token b) {
    return connections_[a].out->queued_bytes() > connections_[b].out->queued_bytes();
  });
  const uint64_t mark = shared_.memory.limit() / 4 * 3;
  uint64_t used = shared_.memory.used();
  size_t closed = 0;
  for (net::Token t : stalled_) {
    if (used < mark) break;
    Connection& c = connections_[t];
    used -= std::min(used, c.out->queued_bytes());
    log_.debug("connection %u: reset, %llu bytes unsent under memory pressure", t,
               static_cast<unsigned long long>(c.out->queued_bytes()));
    fail_for_memory(c);
    ++closed;
  }
  if (closed) log_.warn("memory budget (--max-memory) under pressure: reset %zu connection%s holding the most unsent output",
                        closed, closed == 1 ? "" : "s");
  pressure_since_ms_ = now_ms;
}

}  // namespace wsring::server
