#include "server/engine.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

#include "server/echo_page.hpp"
#include "server/tls_session.hpp"

namespace wsring::server {

namespace {

constexpr size_t kWriteBufferCount = 8192;
constexpr size_t kGatherBufferCount = 4096;  // slow clients whose request head spans buffers

}  // namespace

Engine::Engine(const Config& config, net::Reactor& reactor, int listen_fd, SharedState& shared, const Logger& log,
               Application& app)
    : config_(config),
      reactor_(reactor),
      listen_fd_(listen_fd),
      shared_(shared),
      log_(log),
      app_(app),
      echo_in_place_(app.echoes_in_place()),
      write_pool_(kWriteBufferSize, kWriteBufferCount),
      gather_pool_(config.max_header_size, kGatherBufferCount),
      chunks_(shared.memory),
      timers_(50, 4096),
      tls_handshake_budget_(config.tls_handshakes_per_turn ? config.tls_handshakes_per_turn : kNoHandshakeBound),
      own_frames_(std::make_unique<SharedFramePool>(shared.memory)),
      frames_(own_frames_.get()),
      connection_log_(config.connection_log) {
  request_limits_.max_header_bytes = config.max_header_size;
  request_limits_.max_headers = config.max_headers;
  for (const std::string& s : config.subprotocols) subprotocol_views_.emplace_back(s);
  for (const std::string& s : config.allowed_origins) origin_views_.emplace_back(s);
  policy_.path = config.path;
  policy_.subprotocols = subprotocol_views_;
  policy_.allowed_origins = origin_views_;
  page_response_ = make_echo_page_response();
  app_.attach(*this);
}

Engine::~Engine() {
  // Frames other threads posted and nobody took: give back the references they carry.
  reactor_.drain_messages(*this);
  // Queues hold pool buffers and chunks: give them back before the pools go; and a connection
  // still open (a forced stop, a test) still owns its TLS session.
  connections_.for_each([this](Connection& c) {
    if (c.out) c.out->reset();
    end_tls(c);
  });
  shared_releases_.flush();
}

void Engine::run() {
  reactor_.listen(listen_fd_);
  for (int fd : tls_listen_fds_) reactor_.listen(fd);
  for (int fd : plain_listen_fds_) reactor_.listen(fd);
  reactor_.run(*this);
}

// ---------------------------------------------------------------------------------------
// Accept and receive

bool Engine::refuse_over_limit(int fd, bool tls) {
  if (!config_.max_connections || shared_.connections.load(std::memory_order_relaxed) < config_.max_connections)
    return false;
  // Over the limit: say so in one small write and hang up; never queue such a socket.
  static const char kBusy[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
      "Connection: close\r\nRetry-After: 1\r\n\r\nconnection limit reached\n";
  // A TLS client would take a plaintext response for a broken record: it gets a fatal
  // internal_error alert instead, in the plaintext record TLS uses before the handshake.
  static const uint8_t kBusyAlert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50};
  ssize_t ignored = tls ? ::send(fd, kBusyAlert, sizeof kBusyAlert, MSG_NOSIGNAL | MSG_DONTWAIT)
                        : ::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  // Drain what the client already sent: closing with unread bytes would reset the
  // connection, and the reset could destroy the 503 before the client reads it.
  char discard[4096];
  for (int i = 0; i < 16 && ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
  }
  (void)ignored;
  ::close(fd);
  ++stats_.refused_over_limit;
  ++stats_.upgrade_failures[http_status_bucket(503)];
  return true;
}

void Engine::on_accept(int fd, int listen_fd) {
  const bool tls = !tls_listen_fds_.empty() &&
                   std::find(tls_listen_fds_.begin(), tls_listen_fds_.end(), listen_fd) != tls_listen_fds_.end();
  const bool proxied = !proxy_listen_fds_.empty() &&
                       std::find(proxy_listen_fds_.begin(), proxy_listen_fds_.end(), listen_fd) != proxy_listen_fds_.end();
  if (!proxied) {
    open_connection(fd, tls);
    return;
  }
  if (proxy_peer_refused(fd)) {
    ++stats_.accepted;
    return;
  }
  Connection* c = open_connection(fd, tls);
  if (!c || c->state != ConnState::Handshaking) return;
  try {
    proxied_[c->token];
    c->proxy_pending = true;
  } catch (const std::bad_alloc&) {
    fail_for_memory(*c);
  }
}

Connection* Engine::open_connection(int fd, bool tls) {
  ++stats_.accepted;
  if (refuse_over_limit(fd, tls)) return nullptr;
  // The steps that may allocate come first (a new slot, the reactor's socket table): when memory
  // runs out there, the socket is closed and counted, and nothing else has changed.
  const bool reuse = !free_tokens_.empty();
  const net::Token t = reuse ? free_tokens_.back() : net::Token(connections_.size());
  try {
    if (!reuse) connections_.grow();
    reactor_.open(t, fd);
  } catch (const std::bad_alloc&) {
    ++stats_.memory_refusals;
    if (!reuse && connections_.size() > t) connections_.shrink_last();
    ::close(fd);
    return nullptr;
  }
  if (reuse) free_tokens_.pop_back();
  Connection& c = connections_[t];
  c.~Connection();
  new (&c) Connection();
  c.token = t;
  // No control pool: a control frame split across receive buffers borrows 125 bytes of its own
  // for just that long, so no number of such connections can exhaust a shared pool.
  c.reader = core::MessageReader(core::Role::Server, core::ReaderLimits{config_.max_message_size});
  const bool tls_ok = !tls || start_tls(c);
  enter(c, ConnEvent::Accepted);
  c.last_activity_ms = reactor_.now_ms();
  c.deadline_ms = c.last_activity_ms + seconds_to_ms(config_.handshake_timeout_s);
  ++live_;
  shared_.connections.fetch_add(1, std::memory_order_relaxed);
  timers_.schedule(c.timer, c.deadline_ms);
  if (connection_log_.enabled()) sample_connection(c);
  if (!tls_ok) fail_for_memory(c);  // no TLS session could be had: the socket goes (counted)
  return &c;
}

// Memory exhaustion while serving one connection (under an address-space limit, a container
// that must grow) fails that connection, never the process. Output memory is refused without an
// exception (OutputQueue, ChunkPool, Engine::queue); the event handlers catch what is left.
void Engine::on_recv(net::Token t, const net::RecvBuffer& b) {
  Connection& c = connections_[t];
  ++stats_.receives;
  stats_.bytes_received += b.size;
  if (c.sampled) [[unlikely]] sampled(c).bytes_in += b.size;
  c.last_activity_ms = reactor_.now_ms();
  try {
    net::RecvBuffer rest;
    if (!c.proxy_pending) [[likely]]
      receive(c, b);
    else if (receive_proxy(c, b, rest))
      receive(c, rest);
  } catch (const std::bad_alloc&) {
    // The receive buffer was queued or given back before anything that can still throw.
    framer_.cut();
    input_used_ = false;
    fail_for_memory(c);
  }
}

// The transport seam: the one place where bytes enter a connection. Plaintext goes straight to
// the protocol, in the receive buffer the kernel filled (the zero-copy path); a TLS transport
// would decrypt here into a per-thread buffer and hand that on. Output of the whole batch
// leaves in one flush.
inline void Engine::receive(Connection& c, const net::RecvBuffer& b) {
  if (c.tls) [[unlikely]] {
    receive_tls(c, b);
    return;
  }
  consume(c, b.data, b.size, Segment::recv_marker(b.id));
  // A message that fanned out is answered after its deliveries leave (a broadcast's result
  // follows the broadcast), in the turn's one flush of fan-out output.
  if (fanout_pending_.empty()) [[likely]]
    flush(c);
  else
    flush_later(c);
}

void Engine::consume(Connection& c, uint8_t* data, size_t size, const Segment& owner) {
  switch (c.state) {
    case ConnState::Handshaking:
      handle_handshake(c, data, size, owner);
      return;
    case ConnState::Open:
      consume_frames_from(c, data, size, owner);
      return;
    case ConnState::CloseSent:
    case ConnState::WriteShut:
      discard_input(c, data, size);
      break;
    default:  // Responding, PeerDone, ClosingFd: nothing more is read
      break;
  }
  release(owner);
  maybe_finish(c);
}

void Engine::on_recv_end(net::Token t, int error) {
  Connection& c = connections_[t];
  try {
    end_of_input(c, error);
  } catch (const std::bad_alloc&) {
    fail_for_memory(c);
  }
}

void Engine::end_of_input(Connection& c, int error) {
  if (c.state == ConnState::ClosingFd || c.state == ConnState::Free) return;
  if (error != 0) {
    c.ended_by(EndReason::NetworkError);
    close_now(c, true);
    return;
  }
  if (c.tls) {
    // What the peer sent before its end comes first, unless it is the first flight: a ClientHello
    // followed by end of stream can never complete a handshake, so it costs no handshake work.
    if (c.tls_deferred && c.tls->handshake_started()) resume_handshake(c);
    c.tls_deferred = false;
    if (c.state == ConnState::ClosingFd) return;
    const bool counted = c.tls->failed();
    const TlsError e = c.tls->end_of_input();  // a stream cut short without close_notify is counted
    if (e != TlsError::None && !counted) ++stats_.tls_failures[size_t(e)];
  }
  c.ended_by(EndReason::PeerEof);
  peer_ended(c);
  flush(c);
}

// The peer will send nothing more (end of stream, close_notify, a TLS failure): flush what we
// owe it if it still reads, then close.
void Engine::peer_ended(Connection& c) {
  if (c.state == ConnState::PeerDone || c.state == ConnState::ClosingFd || c.state == ConnState::Free) return;
  if (c.state == ConnState::WriteShut) {
    enter(c, ConnEvent::PeerEnded);  // the exchange is over: close the socket
    return;
  }
  const bool had_deadline = c.state != ConnState::Open && c.state != ConnState::Handshaking;
  enter(c, ConnEvent::PeerEnded);
  if (!had_deadline) {
    c.deadline_ms = reactor_.now_ms() + seconds_to_ms(config_.close_timeout_s);
    schedule_timer(c, reactor_.now_ms());
  }
  maybe_finish(c);
}

// ---------------------------------------------------------------------------------------
// Life cycle

// Moves c along the state table and runs the action of the state it enters.
void Engine::enter(Connection& c, ConnEvent e, bool reset) {
  const ConnState from = c.state;
  c.transition(e);
  if (c.state == from) return;
  if (c.state == ConnState::WriteShut) {
    // Tell the peer we are done and wait for its close or end of stream, discarding input:
    // closing a socket with unread input would reset it and could destroy our last words.
    // Over TLS, a close_notify says it (a FIN now would overtake it).
    if (!c.tls) reactor_.shutdown_write(c.token);
    else send_close_notify(c);
  } else if (c.state == ConnState::ClosingFd) {
    timers_.cancel(c.timer);
    // reset: abort (RST, no linger): the peer is gone or hostile and queued data is moot.
    reactor_.close(c.token, reset);
  }
}

void Engine::close_now(Connection& c, bool abort) {
  if (c.state == ConnState::ClosingFd || c.state == ConnState::Free) return;
  enter(c, ConnEvent::Abort, abort);
}

void Engine::on_closed(net::Token t) {
  Connection& c = connections_[t];
  end_tls(c);
  forget_proxy(t);
  give_back_output(c);  // the send was cancelled: give back everything it held
  end_gather(c);
  end_deflate(c);
  timers_.cancel(c.timer);
  c.reader = core::MessageReader(core::Role::Server);  // gives back a split control frame's buffer now
  ++stats_.connections_closed;
  ++stats_.closed_by_reason[size_t(c.end_reason)];
  if (c.sampled) log_connection_closed(c);
  enter(c, ConnEvent::Closed);
  if (t < skipped_.size() && skipped_[t]) {
    log_.debug("connection %u: skipped %u fan-out messages as a slow receiver", t, skipped_[t]);
    skipped_[t] = 0;
  }
  app_.on_close(t);
  try {
    free_tokens_.push_back(t);
  } catch (const std::bad_alloc&) {  // the slot is lost, not the process
  }
  --live_;
  shared_.connections.fetch_sub(1, std::memory_order_relaxed);
}

void Engine::on_tick(uint64_t now_ms) {
  timers_.advance(now_ms, [&](net::TimerLink& link) {
    // The link is the first member of Connection.
    Connection& c = *reinterpret_cast<Connection*>(&link);
    try {
      on_timer(c, now_ms);
    } catch (const std::bad_alloc&) {
      fail_for_memory(c);
    }
  });
  try {
    app_.on_tick(now_ms);  // what an application does on its own (push): a refusal costs its messages
  } catch (const std::bad_alloc&) {
    ++stats_.memory_refusals;
  }
  flush_fanout();
  shared_releases_.flush();
  return_parked_output();
  release_kept_tls_buffers();
  relieve_memory_pressure(now_ms);
  fold_idle_deflate(now_ms);
  if (!tls_listen_fds_.empty()) refresh_tls_context();
  if (!shutting_down_ && shared_.stop.load(std::memory_order_relaxed)) begin_shutdown(now_ms);
  publish(now_ms);
  if (shutting_down_) {
    drain(now_ms);
    if (live_ == 0) {
      reactor_.stop();
    } else if (now_ms >= shutdown_deadline_ms_) {
      connections_.for_each([&](Connection& c) { close_now(c, true); });
      if (now_ms >= shutdown_deadline_ms_ + 1000) reactor_.stop();  // the closes did not come back
    }
  }
}

}  // namespace wsring::server
