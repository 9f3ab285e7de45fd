// The engine of one reactor thread: accepts connections, runs the opening handshake, reads
// frames, keeps limits, timers, backpressure and the close handshake, and hands messages to an
// Application. Composed from core/ (the protocol) and net/ (the reactor).
//
// To follow one echo: on_recv -> receive (the transport seam) -> consume_frames (core's
// MessageReader unmasks in place) -> Application::on_data -> Session::reply_in_place (core's
// InPlaceFramer gives the payload a server header where it lies) -> flush -> OutputQueue ->
// Reactor::send; on_send releases each segment's owner (here: the receive buffer).
//
// The class is one concept in several files: engine.cpp (accept, receive, close, shutdown),
// engine_handshake.cpp, engine_frames.cpp, engine_output.cpp, engine_timers.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/buffer_pool.hpp"
#include "core/handshake.hpp"
#include "core/http_request.hpp"
#include "core/inplace_framer.hpp"
#include "core/proxy_header.hpp"
#include "net/reactor.hpp"
#include "net/timer_wheel.hpp"
#include "server/application.hpp"
#include "server/config.hpp"
#include "server/connection.hpp"
#include "server/connection_log.hpp"
#include "server/fanout.hpp"
#include "server/deflate_session.hpp"
#include "server/log.hpp"
#include "server/metrics.hpp"
#include "server/memory_budget.hpp"
#include "server/output_queue.hpp"
#include "server/shared_frame.hpp"
#include "server/stats.hpp"
#include "server/tls_context.hpp"

namespace wsring::server {

inline uint64_t seconds_to_ms(double s) { return uint64_t(s * 1000.0 + 0.5); }

// The in-place echo writes a server header in front of a chunk that starts a receive buffer.
static_assert(net::kRecvHeadroom >= core::InPlaceFramer::headroom(),
              "the reactor's receive headroom must hold the largest server frame header");

// The reactor threads of one process, for fan-out across them: each thread's reactor (set while
// it serves) and the pool its shared frames come from (pools outlive every thread's engine, as
// frames made on one thread may be given back on another).
struct ReactorThreads {
  ReactorThreads(unsigned count, MemoryBudget& budget);
  std::vector<std::atomic<net::Reactor*>> reactors;
  std::vector<std::unique_ptr<SharedFramePool>> pools;
};

class Engine final : public net::EventHandler, public SegmentReleaser, public Fanout {
 public:
  static constexpr size_t kWriteBufferSize = 512;  // a 101 response, an HTTP error, a close or a pong
  static constexpr size_t kMaxParked = 256;        // drained output queues kept until the next tick
  static constexpr size_t kReleaseTlsBuffersAfter = 8192;  // plaintext per receive (engine_tls.cpp)

  Engine(const Config& config, net::Reactor& reactor, int listen_fd, SharedState& shared, const Logger& log,
         Application& app);
  ~Engine() override;

  // Serves wss:// on this listening socket too, with shared.tls's context; `reloads`: this
  // engine is the one that rebuilds the context when SIGHUP asks (one per process).
  void add_tls_listener(int listen_fd, bool reloads);
  // Thread `index` of `threads`: shared frames come from its pool, and fan-out reaches the
  // other threads' reactors. Without it, an engine fans out to its own connections only.
  void join_threads(ReactorThreads& threads, unsigned index);
  // Serves ws:// on one more listening socket (an inherited one that matched no flag).
  void add_listener(int listen_fd);
  // Connections from this listening socket (plain or TLS) start with a PROXY protocol header,
  // and come only from --proxy-from peers (engine_proxy.cpp).
  void add_proxy_listener(int listen_fd);

  // The client a PROXY header named for this connection; family AF_UNSPEC when none did (LOCAL,
  // UNKNOWN, AF_UNIX, or not proxied): peer_address() prefers it to the socket's peer.
  net::SocketAddress proxied_client(net::Token token) const;

  // Serves until shared.stop is set and every connection has closed (or the close timeout
  // passed). Returns when the reactor has stopped.
  void run();
  const ServerStats& stats() const { return stats_; }
  // Publishes this engine's counters to slot `index` of `board` at every tick (the admin
  // listener reads them there).
  void publish_to(StatsBoard& board, unsigned index) {
    board_ = &board;
    board_index_ = index;
  }
  // The peer's address for a log line (203.0.113.7:51234), taken when asked (cold path): the
  // connection record does not hold it. AF_UNSPEC when the kernel no longer knows it.
  net::SocketAddress peer_address(net::Token token) const;
  // "connection 7 (203.0.113.7:51234)": how a log line names a connection, formed without
  // allocating (log lines are written where memory has run out). Call it only when the line will
  // be written (it asks the kernel).
  struct ConnectionName {
    char text[32 + net::SocketAddress::kTextSize];
    const char* c_str() const { return text; }
  };
  ConnectionName who(net::Token token) const;
  size_t open_connections() const { return live_; }

  // net::EventHandler
  void on_accept(int fd, int listen_fd) override;
  void on_recv(net::Token token, const net::RecvBuffer& buffer) override;
  void on_recv_end(net::Token token, int error) override;
  void on_send(net::Token token, int result) override;
  void on_closed(net::Token token) override;
  void on_tick(uint64_t now_ms) override;
  bool on_turn_end() override;  // resumes deferred TLS handshakes (engine_tls.cpp), then app_turn_end
  void on_message(uint64_t value) override;

  // Fanout (engine_fanout.cpp)
  SharedFrame* frame(core::Opcode opcode, std::initializer_list<std::string_view> parts,
                     std::string_view key) override;
  bool deliver(net::Token token, SharedFrame& frame) override;
  size_t deliver_all(std::span<const net::Token> tokens, SharedFrame& frame) override;
  void post_to_other_threads(SharedFrame& frame) override;
  bool send_to(net::Token token, core::Opcode opcode, const void* data, size_t size) override;
  void close(net::Token token, uint16_t code, std::string_view reason) override;
  uint64_t now_ms() const override { return reactor_.now_ms(); }
  unsigned thread_index() const override { return thread_index_; }
  unsigned thread_count() const override { return threads_ ? unsigned(threads_->reactors.size()) : 1; }

 private:
  friend class Session;

  // Receive: the transport seam (plaintext today; TLS decrypts here), then handshake or frames.
  void receive(Connection& c, const net::RecvBuffer& b);
  void end_of_input(Connection& c, int error);
  void consume(Connection& c, uint8_t* data, size_t size, const Segment& owner);

  // Handshake (engine_handshake.cpp).
  void handle_handshake(Connection& c, uint8_t* data, size_t size, const Segment& owner);
  // True when the head was complete (and answered); *consumed is its length.
  bool answer_request(Connection& c, uint8_t* data, size_t size, size_t* consumed);
  bool start_gather(Connection& c, const uint8_t* data, size_t size);
  void end_gather(Connection& c);
  void send_http_error(Connection& c, int status, std::string_view body, bool version_mismatch);
  void log_refusal(Connection& c, int status, std::string_view reason);

  // Frames (engine_frames.cpp).
  void consume_frames_from(Connection& c, uint8_t* data, size_t size, const Segment& owner);
  void consume_frames(Connection& c, uint8_t* data, size_t size);
  void on_control(Connection& c, const core::ReadEvent& ev);
  void discard_input(Connection& c, uint8_t* data, size_t size);
  bool queue_control(Connection& c, core::Opcode opcode, const uint8_t* payload, size_t size);
  void queue_close(Connection& c, uint16_t code, std::string_view reason);
  // Inline: echo calls it for every message.
  void reply_in_place(const core::ReadEvent& chunk) {
    framer_.emit(chunk.frame_start ? chunk.frame_opcode : core::Opcode::Continuation,
                 chunk.frame_end && chunk.frame_fin, chunk.payload, chunk.payload_size);
  }
  bool send_message(Connection& c, core::Opcode opcode, const uint8_t* data, size_t size);
  bool queue_frame(Connection& c, core::Opcode opcode, bool fin, bool rsv1, const uint8_t* payload, size_t size);

  // permessage-deflate (engine_deflate.cpp).
  // Negotiates from the request just parsed; writes the response's Sec-WebSocket-Extensions
  // value into `value` and returns its length, 0 when the extension is not agreed.
  size_t agree_deflate(Connection& c, std::span<char> value);
  void on_compressed(Connection& c, const core::ReadEvent& ev);
  void inflate_message(Connection& c, core::Opcode opcode, uint8_t* in, size_t size, bool in_place);
  void pass_through(Connection& c, core::Opcode opcode, uint8_t* payload, size_t size, uint64_t plain_size,
                    bool in_place);
  bool send_recompressed(Connection& c, core::Opcode opcode, const uint8_t* data, size_t size);
  void count_inflated(size_t compressed, uint64_t inflated);
  void deliver_inflated(Connection& c, core::Opcode opcode, uint8_t* data, size_t size, bool first, bool last);
  void fail_compressed(Connection& c, uint16_t code, const char* why);
  InflateStream* inflater_for(Connection& c);
  DeflateStream* deflater_for(Connection& c, size_t message_size);
  bool send_deflated(Connection& c, core::Opcode opcode, const uint8_t* data, size_t size);
  bool deflate_piece(Connection& c, DeflateStream& stream, PackState& state, const uint8_t* data, size_t size,
                     bool last);
  bool queue_packed(Connection& c, PackState& state, size_t size, bool fin);
  void end_deflate(Connection& c);
  void fold_idle_deflate(uint64_t now_ms);
  void cut_region(Connection& c, const Segment* owner = nullptr);

  // Output (engine_output.cpp). A small buffer is a write-pool buffer, or, when the pool is
  // spent, the engine's scratch buffer whose bytes are then copied into a chunk.
  struct SmallBuffer {
    uint8_t* data;
    size_t capacity;
    bool pooled;
  };
  SmallBuffer small_buffer();
  // Queues the n bytes written into `out` (n == 0: nothing was written; the buffer goes back).
  bool queue_small(Connection& c, const SmallBuffer& out, size_t n);
  // Appends to the connection's output; a connection that no longer sends gives the segment's
  // owner straight back. False when the segment was not queued. Inline: once per message.
  bool queue(Connection& c, const Segment& s) {
    if (c.tls) [[unlikely]] return stage_plaintext(c, s);
    if (c.state != ConnState::ClosingFd && c.state != ConnState::Free) [[likely]] {
      OutputQueue* q = output_of(c);
      if (q && q->append(s)) [[likely]] return true;
      if (q) {  // append refused the memory and released the segment
        fail_for_memory(c);
        return false;
      }
    }
    return refuse_output(c, s);
  }
  bool refuse_output(Connection& c, const Segment& s);
  bool queue_copy(Connection& c, const uint8_t* data, size_t size);
  void flush(Connection& c);
  // The connection's queue, lent now if it has none; nullptr when none can be allocated.
  OutputQueue* output_of(Connection& c) { return c.out ? c.out : lend_output(c); }
  OutputQueue* lend_output(Connection& c);
  void give_back_output(Connection& c);
  void park_output(Connection& c);
  void return_parked_output();
  void release(const Segment& s) override;  // SegmentReleaser
  void sent(Connection& c, int result);  // on_send's work
  void on_send_failed(Connection& c, int result);
  void maybe_resume(Connection& c);
  void check_backpressure(Connection& c);
  void watch_send_progress(Connection& c);
  void maybe_finish(Connection& c);
  void fail_for_memory(Connection& c);
  void relieve_memory_pressure(uint64_t now_ms);

  // The TLS transport (engine_tls.cpp).
  bool start_tls(Connection& c);
  void end_tls(Connection& c);
  void receive_tls(Connection& c, const net::RecvBuffer& b);
  void run_tls(Connection& c, std::span<const uint8_t> input);
  void defer_handshake(Connection& c);
  void resume_handshake(Connection& c);
  void tls_failed(Connection& c);
  bool stage_plaintext(Connection& c, const Segment& s);
  bool queue_copy_tls(Connection& c, const uint8_t* data, size_t size);
  void keep_tls_buffers(Connection& c);
  void release_kept_tls_buffers();
  void seal(Connection& c);
  bool send_close_notify(Connection& c);
  void take_tls_context();
  void refresh_tls_context();

  // Fan-out (engine_fanout.cpp): the connection a fan-out call may touch, if it is open and
  // not a slow receiver (the current in-place region is queued to its own connection first).
  Connection* fanout_target(net::Token token, size_t bytes);
  void cut_current_region();
  void slow_receiver(Connection& c);
  // Fan-out output leaves at the end of the callback that queued it: a receiver of several
  // broadcasts from one receive batch gets them in one send.
  void flush_later(Connection& c);
  void flush_fanout();
  bool deliver_referenced(net::Token token, SharedFrame& frame);
  bool app_turn_end();
  // The PROXY protocol (engine_proxy.cpp): the header is read before the transport starts.
  bool proxy_peer_refused(int fd);
  // True when bytes for the transport followed the header in `b`: they are in `rest`.
  bool receive_proxy(Connection& c, const net::RecvBuffer& b, net::RecvBuffer& rest);
  bool take_proxy_header(Connection& c, const core::ProxyHeader& h);
  void forget_proxy(net::Token t);

  // Life cycle (engine.cpp) and timers (engine_timers.cpp).
  Connection* open_connection(int fd, bool tls);
  void peer_ended(Connection& c);
  void enter(Connection& c, ConnEvent e, bool reset = false);
  void close_now(Connection& c, bool abort = false);
  void schedule_timer(Connection& c, uint64_t now_ms);
  void on_timer(Connection& c, uint64_t now_ms);
  bool check_send_progress(Connection& c, uint64_t now_ms);
  // Shutdown (engine_drain.cpp).
  void begin_shutdown(uint64_t now_ms);
  void publish(uint64_t now_ms);  // engine_observe.cpp: the tick's counters and connection log
  void sample_connection(Connection& c);
  void log_connection_closed(Connection& c);
  ConnectionLog::Figures& sampled(const Connection& c) { return connection_log_.figures(c.token); }
  void close_listeners();
  void drain(uint64_t now_ms);
  void close_going_away(Connection& c, bool window_over);
  bool refuse_over_limit(int fd, bool tls);

  const Config& config_;
  net::Reactor& reactor_;
  int listen_fd_;
  SharedState& shared_;
  const Logger& log_;
  Application& app_;
  ServerStats stats_;

  core::RequestLimits request_limits_;
  core::UpgradeRequest request_;  // reused: its 256 header slots are 8 KiB, too much to zero per request
  std::vector<std::string_view> subprotocol_views_;
  std::vector<std::string_view> origin_views_;
  core::HandshakePolicy policy_;
  std::string page_response_;  // the whole HTTP response carrying the HTML echo client

  // The input buffer being read: reply_in_place frames its chunks in place, and `input_used_`
  // says whether any output now points into it (then its owner rides on the output queue).
  core::InPlaceFramer framer_;
  bool input_used_ = false;
  const bool echo_in_place_;  // app_.echoes_in_place(), read once

  // The pools are declared before the connections: readers give buffers back when destroyed.
  core::BufferPool write_pool_;   // 101 responses, HTTP errors, pongs and closes that are not in place
  core::BufferPool gather_pool_;  // request heads that span receive buffers
  ChunkPool chunks_;              // spilled output and copied messages, charged to --max-memory
  ConnectionTable connections_;
  std::vector<net::Token> free_tokens_;
  std::vector<std::unique_ptr<OutputQueue>> all_queues_;
  std::vector<OutputQueue*> free_queues_;
  // Connections holding a gather buffer, oldest first (token, buffer): when the pool runs out the
  // oldest incomplete request is dropped, so slow clients cannot lock out a normal one.
  std::deque<std::pair<net::Token, uint8_t*>> gathering_;
  std::vector<net::Token> parked_;   // connections holding a drained queue until the next tick
  std::vector<net::Token> stalled_;  // connections whose output was spilled (may be stale)
  net::TimerWheel timers_;
  uint8_t scratch_[kWriteBufferSize];  // a small buffer when the write pool is spent

  // TLS: the context of new sessions, the per-thread plaintext buffer (receive headroom in
  // front), and the plaintext output staged for one connection until it is sealed.
  static constexpr size_t kPlaintextSize = 64 * 1024;
  // TLS handshake steps (reads before a session is established) run per loop turn
  // (--tls-handshakes-per-turn); more wait, in order, in tls_deferred_.
  static constexpr uint32_t kNoHandshakeBound = UINT32_MAX;
  const uint32_t tls_handshake_budget_;
  uint32_t tls_handshakes_this_turn_ = 0;
  std::deque<net::Token> tls_deferred_;
  std::vector<net::Token> tls_buffers_kept_;  // sessions keeping OpenSSL's buffers until the next tick
  TlsContext tls_context_;
  uint64_t tls_generation_ = 0;
  std::vector<int> tls_listen_fds_;
  bool tls_reloads_ = false;
  std::unique_ptr<uint8_t[]> plaintext_;
  std::vector<Segment> staged_;
  std::vector<iovec> staged_iov_;
  Connection* staged_for_ = nullptr;
  // Fan-out: where shared frames come from, the other threads, the connection whose input is
  // being consumed (its in-place region must be cut before other output), skips per connection.
  std::unique_ptr<SharedFramePool> own_frames_;
  SharedFramePool* frames_;
  ReactorThreads* threads_ = nullptr;
  unsigned thread_index_ = 0;
  Connection* consuming_ = nullptr;
  std::vector<uint32_t> skipped_;
  std::vector<net::Token> fanout_pending_;  // connections to flush at the end of the turn
  SharedFrameReleases shared_releases_;     // references of sent shared frames, dropped per turn

  std::unique_ptr<DeflateThread> deflate_;  // permessage-deflate: made when first agreed
  size_t live_ = 0;
  uint64_t pressure_since_ms_ = 0;   // when the memory budget came under pressure (0: it is not)
  uint64_t refusals_logged_ms_ = 0;  // rate limit of the refused-upgrade log line
  uint64_t refusals_suppressed_ = 0;
  bool shutting_down_ = false;
  uint64_t shutdown_deadline_ms_ = 0;
  StatsBoard* board_ = nullptr;  // where on_tick publishes stats_ (admin listener, SIGUSR1)
  ConnectionLog connection_log_;
  unsigned board_index_ = 0;
  // Drain: connections open at SIGTERM get their close (1001) spread over --drain-window, in
  // this order; those upgraded later get theirs at the end of the window.
  bool listeners_closed_ = false;
  std::vector<net::Token> drain_order_;
  size_t drain_next_ = 0;
  uint64_t drain_start_ms_ = 0;

  // More listeners: plain ones inherited without a matching flag, and those expecting PROXY.
  std::vector<int> plain_listen_fds_;
  std::vector<int> proxy_listen_fds_;
  // Side table of proxied connections only (an idle plain connection pays nothing): the header
  // gathered while it spans receives, then the client it named.
  struct ProxiedPeer {
    std::unique_ptr<uint8_t[]> partial;  // core::kProxyMaxLength bytes while the header is split
    uint16_t partial_size = 0;
    net::SocketAddress client;  // from the header; AF_UNSPEC for LOCAL, UNKNOWN, AF_UNIX
  };
  std::unordered_map<net::Token, ProxiedPeer> proxied_;
};

inline void Session::reply_in_place(const core::ReadEvent& chunk) { engine_.reply_in_place(chunk); }

}  // namespace wsring::server
