// The TLS transport (wss://), at the engine's transport seam. The ciphertext the kernel wrote is
// fed to the connection's TlsSession straight from the receive buffer (which goes back at once:
// the session keeps only an unfinished record); plaintext is decrypted into one per-thread
// buffer that has the receive headroom in front, so the frame code and the in-place echo run on
// it unchanged. Output queued while a connection is served is staged as plaintext and encrypted
// into chunks of the connection's output queue before the plaintext buffer is reused: a batch
// still leaves in one send. A close_notify precedes our end of the stream.
#include <cstring>

#include "server/engine.hpp"
#include "server/tls_session.hpp"

namespace wsring::server {

namespace {

// Ciphertext straight into a connection's output queue (chunks charged to --max-memory).
class QueueSink final : public CiphertextSink {
 public:
  explicit QueueSink(OutputQueue& queue) : queue_(queue) {}
  std::span<uint8_t> space() override { return queue_.chunk_room(); }
  void commit(size_t size) override { queue_.commit_room(size); }

 private:
  OutputQueue& queue_;
};

}  // namespace

void Engine::add_tls_listener(int listen_fd, bool reloads) {
  tls_listen_fds_.push_back(listen_fd);
  tls_reloads_ = tls_reloads_ || reloads;
  tls_generation_ = shared_.tls.generation.load();
  take_tls_context();
  if (!plaintext_) plaintext_ = std::make_unique<uint8_t[]>(net::kRecvHeadroom + kPlaintextSize);
  tls_buffers_kept_.reserve(kMaxParked);
}

// SIGHUP: the reloading engine rebuilds the context from the files; every engine takes the
// newest one for its next connections.
void Engine::refresh_tls_context() {
  SharedTls& tls = shared_.tls;
  if (tls_reloads_ && tls.reload_requested.exchange(false)) {
    std::string error;
    bool ok = false;
    try {
      std::lock_guard<std::mutex> lock(tls.mutex);
      ok = TlsContext::reload_server(&tls.context, &tls.options, &error);
    } catch (const std::bad_alloc&) {
      error.clear();  // the message itself could not be formed
    }
    if (ok) {
      tls.generation.fetch_add(1);
      log_.info("TLS certificate and key reloaded from %s and %s%s%s", tls.options.certificate_file.c_str(),
                tls.options.key_file.c_str(), tls.options.ticket_key_file.empty() ? "" : ", ticket keys from ",
                tls.options.ticket_key_file.c_str());
    } else {
      log_.error("TLS reload refused, the previous certificate, key and ticket keys stay: %s",
                 error.empty() ? "out of memory" : error.c_str());
    }
  }
  const uint64_t generation = tls.generation.load(std::memory_order_relaxed);
  if (generation != tls_generation_) {
    tls_generation_ = generation;
    take_tls_context();
  }
}

// This thread's own copy of the shared context: the record offload switches a context's key log
// callback on and off during its handshakes, which only one thread may do. If the copy cannot be
// made (memory), the previous context stays; with none, new wss connections are closed.
void Engine::take_tls_context() {
  std::string error;
  TlsContext own = shared_.tls.current().twin(&error);
  if (own)
    tls_context_ = std::move(own);
  else
    log_.error("%s", error.c_str());
}

bool Engine::start_tls(Connection& c) {
  TlsSession session = TlsSession::server(tls_context_);
  if (!session) return false;
  c.tls = new (std::nothrow) TlsSession(std::move(session));
  return c.tls != nullptr;
}

void Engine::end_tls(Connection& c) {
  if (!c.tls) return;
  if (staged_for_ == &c) {
    for (const Segment& s : staged_) release(s);
    staged_.clear();
    staged_for_ = nullptr;
  }
  delete c.tls;
  c.tls = nullptr;
  c.tls_deferred = false;  // its entry in tls_deferred_ is skipped
  c.tls_buffers_kept = false;  // likewise in tls_buffers_kept_
}

// Handshake work is bounded per loop turn (--tls-handshakes-per-turn steps): a flood of new
// connections costs established ones at most that much delay per turn. Every handshake step
// waits for the turn's end (all of them over the budget wait for a later turn): its bytes are
// held by the session (the receive buffer goes back), the connection joins a FIFO and is resumed
// in order, after the turn's replies to established connections have been started, so no reply
// waits behind a step; what arrives for it meanwhile is held behind. The handshake timeout keeps
// running. With no bound (0) steps run at once.
void Engine::receive_tls(Connection& c, const net::RecvBuffer& b) {
  std::span<const uint8_t> input(b.data, b.size);
  if (!c.tls->established() && !c.tls->failed()) {
    if ((c.tls_deferred || tls_handshake_budget_ != kNoHandshakeBound) && c.tls->hold(input)) {
      reactor_.release_buffer(b.id);
      defer_handshake(c);
      return;
    }
    ++tls_handshakes_this_turn_;
  }
  run_tls(c, input);
  reactor_.release_buffer(b.id);
  flush(c);
}

void Engine::defer_handshake(Connection& c) {
  if (c.tls_deferred) return;
  // Counted when a turn's budget is queued ahead of it: it waits for a later turn (a connection
  // closed meanwhile leaves a stale entry that costs no budget, so this may overcount slightly).
  if (tls_deferred_.size() >= tls_handshake_budget_) ++stats_.tls_handshakes_deferred;
  tls_deferred_.push_back(c.token);  // may throw bad_alloc: on_recv fails this connection
  c.tls_deferred = true;
}

// The input held for a deferred connection, now (its turn came, or its stream ended).
void Engine::resume_handshake(Connection& c) {
  c.tls_deferred = false;
  if (!c.tls || c.state == ConnState::ClosingFd || c.state == ConnState::Free) return;
  ++tls_handshakes_this_turn_;
  std::span<const uint8_t> none;
  run_tls(c, none);
  flush(c);
}

// net::EventHandler: the application's turn-end output, then a new turn's budget of handshake
// steps, spent in order, once the turn's output has been started.
bool Engine::on_turn_end() {
  const bool app_more = app_turn_end();
  tls_handshakes_this_turn_ = 0;
  if (!tls_deferred_.empty()) reactor_.start_queued();
  while (!tls_deferred_.empty() && tls_handshakes_this_turn_ < tls_handshake_budget_) {
    Connection& c = connections_[tls_deferred_.front()];
    tls_deferred_.pop_front();
    if (!c.tls_deferred) continue;  // closed since (its token may be another connection's now)
    try {
      resume_handshake(c);
    } catch (const std::bad_alloc&) {
      framer_.cut();
      input_used_ = false;
      fail_for_memory(c);
    }
  }
  return app_more || !tls_deferred_.empty();
}


// Decrypts `input` (after what the session holds) and serves the plaintext.
void Engine::run_tls(Connection& c, std::span<const uint8_t> input) {
  keep_tls_buffers(c);
  const std::span<uint8_t> plain(plaintext_.get() + net::kRecvHeadroom, kPlaintextSize);
  OutputQueue* out = output_of(c);
  if (!out) {
    fail_for_memory(c);
    return;
  }
  size_t received = 0;
  for (;;) {
    QueueSink sink(*out);
    const TlsReadResult r = c.tls->read(input, plain, sink);
    received += r.plaintext;
    if (r.handshake_done) {
      ++stats_.tls_handshakes;
      if (c.tls->resumed()) ++stats_.tls_resumed;
      if (c.tls->offloaded()) ++stats_.tls_offloaded;
    }
    if (r.plaintext > 0) {
      consume(c, plain.data(), r.plaintext, Segment{});
      seal(c);  // before the plaintext buffer is reused
    }
    if (c.state == ConnState::ClosingFd) break;
    if (r.status == TlsStatus::PlainFull) continue;
    if (r.status == TlsStatus::Closed) {
      peer_ended(c);  // close_notify: the peer sends nothing more
    } else if (r.status == TlsStatus::Failed) {
      tls_failed(c);
    }
    break;
  }
  // Large messages: measured slower with the buffers kept (one 16 KiB record already pays
  // for its allocation; 100 connections' buffers crowd the cache where one freed and taken
  // again stays warm). Kept for small messages, where the allocations were ~3.5% of the CPU.
  if (received >= kReleaseTlsBuffersAfter && c.tls) c.tls->release_buffers();
}

// A TLS failure: the alert the session wrote (if any) goes out, then the socket closes.
void Engine::tls_failed(Connection& c) {
  const TlsError error = c.tls->error();
  ++stats_.tls_failures[size_t(error)];
  c.ended_by(EndReason::TlsError);
  if (log_.enabled(LogLevel::Debug)) log_.debug("%s: TLS failed: %s", who(c.token).c_str(), c.tls->describe().c_str());
  peer_ended(c);
}

// Plaintext output waits here while its connection is served; seal() encrypts it.
bool Engine::stage_plaintext(Connection& c, const Segment& s) {
  if (c.state == ConnState::ClosingFd || c.state == ConnState::Free || c.tls->failed()) {
    release(s);
    return false;
  }
  if (staged_for_ != &c) {
    if (staged_for_) seal(*staged_for_);
    staged_for_ = &c;
  }
  staged_.push_back(s);
  return true;
}

bool Engine::queue_copy_tls(Connection& c, const uint8_t* data, size_t size) {
  seal(c);
  if (c.state == ConnState::ClosingFd || c.state == ConnState::Free || c.tls->failed()) return false;
  OutputQueue* out = output_of(c);
  if (!out) {
    fail_for_memory(c);
    return false;
  }
  QueueSink sink(*out);
  if (c.tls->encrypt(std::span<const uint8_t>(data, size), sink)) return true;
  fail_for_memory(c);
  return false;
}

// Encrypts what is staged for c into its output queue, and gives the plaintext owners back.
void Engine::seal(Connection& c) {
  if (staged_for_ != &c) return;
  staged_iov_.clear();
  for (const Segment& s : staged_)
    if (s.size) staged_iov_.push_back(iovec{const_cast<uint8_t*>(s.data), s.size});
  bool ok = true;
  OutputQueue* out = staged_iov_.empty() ? nullptr : output_of(c);
  if (out) {
    keep_tls_buffers(c);
    QueueSink sink(*out);
    ok = c.tls->encrypt(std::span<const iovec>(staged_iov_), sink);
  } else if (!staged_iov_.empty()) {
    ok = false;
  }
  for (const Segment& s : staged_) release(s);
  staged_.clear();
  staged_for_ = nullptr;
  if (ok) return;
  if (c.tls->error() == TlsError::OutOfBuffers || c.tls->error() == TlsError::None)
    fail_for_memory(c);
  else
    tls_failed(c);
}

// OpenSSL's read and write buffers (~34 KiB) stay with a busy connection until the next tick,
// instead of being allocated and freed for every receive batch and every send; an idle
// connection holds none after a tick. At most kMaxParked sessions keep them at once (a burst
// of many connections does not pile them up); the others free them after each call as before.
void Engine::keep_tls_buffers(Connection& c) {
  if (c.tls_buffers_kept || tls_buffers_kept_.size() >= kMaxParked) return;
  tls_buffers_kept_.push_back(c.token);  // reserved to kMaxParked: never allocates
  c.tls_buffers_kept = true;
  c.tls->keep_buffers(true);
}

void Engine::release_kept_tls_buffers() {
  for (net::Token t : tls_buffers_kept_) {
    Connection& c = connections_[t];
    if (!c.tls_buffers_kept) continue;  // closed since (its token may be another connection's now)
    c.tls_buffers_kept = false;
    c.tls->keep_buffers(false);
    c.tls->release_buffers();
  }
  tls_buffers_kept_.clear();
}

// Our side is done: a close_notify goes out before the stream ends. True when one was queued
// now (the caller waits for it to be sent).
bool Engine::send_close_notify(Connection& c) {
  if (!c.tls || !c.tls->established() || c.tls->failed()) return false;
  OutputQueue* out = output_of(c);
  if (!out) return false;
  QueueSink sink(*out);
  if (!c.tls->close(sink)) return false;
  flush(c);
  return true;
}

}  // namespace wsring::server
