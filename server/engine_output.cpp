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

OutputQueue* Engine::lend_output(Connection& c) {
  if (free_queues_.empty()) {
    try {  // an address-space limit: refused like the budget
      all_queues_.reserve(all_queues_.size() + 1);
      free_queues_.reserve(all_queues_.size() + 1);
      all_queues_.push_back(std::make_unique<OutputQueue>(chunks_, *this));
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
    free_queues_.push_back(all_queues_.back().get());
  }
  c.out = free_queues_.back();
  free_queues_.pop_back();
  return c.out;
}

void Engine::give_back_output(Connection& c) {
  if (!c.out) return;
  if (!c.out->empty() || c.out->in_flight()) c.out->reset();
  c.out->progress = {};
  free_queues_.push_back(c.out);
  c.out = nullptr;
}

// The segment could not be queued (the connection no longer sends, or no queue could be had):
// its owner goes back, and a live connection fails.
bool Engine::refuse_output(Connection& c, const Segment& s) {
  release(s);
  if (c.state != ConnState::ClosingFd && c.state != ConnState::Free) fail_for_memory(c);
  return false;
}

bool Engine::queue_copy(Connection& c, const uint8_t* data, size_t size) {
  if (c.tls) return queue_copy_tls(c, data, size);
  if (c.state == ConnState::ClosingFd || c.state == ConnState::Free) return false;
  OutputQueue* q = output_of(c);
  if (!q || !q->append_copy(data, size)) {
    fail_for_memory(c);
    return false;
  }
  return true;
}

// The transport seam's way out: plaintext leaves as it is (a TLS transport would encrypt the
// queued segments into pooled buffers here). At most one send in flight.
void Engine::flush(Connection& c) {
  if (c.tls) [[unlikely]] seal(c);
  if (c.state == ConnState::ClosingFd) return;
  OutputQueue* q = c.out;
  if (q && q->in_flight()) return;
  const int n = q && !q->empty() ? q->prepare_send() : 0;
  if (n == 0) {  // nothing left (or only owner markers, now released)
    if (c.state != ConnState::Open) maybe_finish(c);
    return;
  }
  ++stats_.sends;
  reactor_.send(c.token, q->iov(), n);
}

// A drained queue stays with its connection until the next tick, so a busy connection does not
// give its queue back and take it again for every message; an idle one holds none after a tick.
// At most kMaxParked are kept: beyond, a queue goes back at once, as every queue did in wave 1.
void Engine::park_output(Connection& c) {
  c.out->progress = {};
  if (c.output_parked) return;
  if (parked_.size() >= kMaxParked) {  // a burst of many connections: don't let queues pile up
    give_back_output(c);
    return;
  }
  c.output_parked = true;
  parked_.push_back(c.token);
}

void Engine::return_parked_output() {
  for (net::Token t : parked_) {
    Connection& c = connections_[t];
    c.output_parked = false;
    if (c.out && c.out->empty() && !c.out->in_flight()) give_back_output(c);
  }
  parked_.clear();
}

void Engine::release(const Segment& s) {
  switch (s.owner) {
    case Owner::None: return;
    case Owner::RecvBuffer: reactor_.release_buffer(s.ring_id); return;
    case Owner::WritePool: write_pool_.release(s.buffer); return;
    case Owner::GatherPool: gather_pool_.release(s.buffer); return;
    case Owner::Chunk: chunks_.release(s.buffer); return;
    case Owner::Shared: shared_releases_.add(reinterpret_cast<SharedFrame*>(s.buffer)); return;
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
  OutputQueue& q = *c.out;
  if (result < 0) [[unlikely]] {
    on_send_failed(c, result);
    return;
  }
  stats_.bytes_sent += uint64_t(result);
  if (c.sampled) [[unlikely]] sampled(c).bytes_out += uint64_t(result);
  if (q.progress.window_start_ms != 0) q.progress.window_sent += uint64_t(result);
  q.on_sent(size_t(result));
  if (q.empty()) park_output(c);
  if (c.recv_paused) [[unlikely]] maybe_resume(c);
  flush(c);
}

void Engine::on_send_failed(Connection& c, int result) {
  if (result != -EAGAIN) {
    c.ended_by(EndReason::NetworkError);
    if (log_.enabled(LogLevel::Debug)) log_.debug("%s: send failed: %s", who(c.token).c_str(), strerror(-result));
    close_now(c, true);
    return;
  }
  // The peer's socket is full: hold its bytes, not our buffers.
  ++stats_.spills;
  OutputQueue& q = *c.out;
  if (!q.on_socket_full()) {
    fail_for_memory(c);
    return;
  }
  if (q.progress.window_start_ms == 0) stalled_.push_back(c.token);
  watch_send_progress(c);
  check_backpressure(c);
  flush(c);
}

// Reads resume once the output has drained to half the limit (and, under memory pressure, no
// longer sits in spilled chunks).
void Engine::maybe_resume(Connection& c) {
  if (c.out && (c.out->queued_bytes() > config_.max_backpressure / 2 ||
                (c.out->stalled() && shared_.memory.under_pressure())))
    return;
  c.recv_paused = false;
  reactor_.resume_recv(c.token);
  schedule_timer(c, reactor_.now_ms());
  Session session(*this, c);
  app_.on_drain(session);
}

// The peer reads slower than it writes: stop reading it until it drains. Under memory pressure,
// so is every peer whose output had to be spilled.
void Engine::check_backpressure(Connection& c) {
  if (c.recv_paused || !c.out || c.state != ConnState::Open) return;
  const bool over = c.out->queued_bytes() > config_.max_backpressure;
  const bool pressure = c.out->stalled() && shared_.memory.under_pressure();
  if (!over && !pressure) return;
  c.recv_paused = true;
  ++stats_.recv_pauses;
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
  if (c.tls) seal(c);  // staged plaintext is output too, and goes before a close_notify
  if (c.out && (!c.out->empty() || c.out->in_flight())) return;  // output left: on_send comes back here
  switch (c.state) {
    case ConnState::PeerDone:
      if (c.tls && send_close_notify(c)) return;  // then close, once it is sent
      [[fallthrough]];
    case ConnState::Responding:
    case ConnState::CloseSent:
      enter(c, ConnEvent::Flushed);  // WriteShut (FIN, wait for the peer) or ClosingFd
      return;
    default:
      return;
  }
}

void Engine::fail_for_memory(Connection& c) {
  ++stats_.memory_refusals;
  c.ended_by(EndReason::Memory);
  if (log_.enabled(LogLevel::Debug))
    log_.debug("%s: output memory refused (--max-memory %llu bytes in use)", who(c.token).c_str(),
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
    if (log_.enabled(LogLevel::Debug))
      log_.debug("%s: reset, %llu bytes unsent under memory pressure", who(t).c_str(),
                 static_cast<unsigned long long>(c.out->queued_bytes()));
    fail_for_memory(c);
    ++closed;
  }
  if (closed) log_.warn("memory budget (--max-memory) under pressure: reset %zu connection%s holding the most unsent output",
                        closed, closed == 1 ? "" : "s");
  pressure_since_ms_ = now_ms;
}

}  // namespace wsring::server
