// The reactor: one thread's event loop over sockets. Knows bytes and file descriptors,
// never WebSocket. Two backends implement it (io_uring, epoll) with identical semantics,
// so server/ and the load generator are written once.
//
// Rules, the same for both backends:
// - A socket is handed to the reactor with open(token, fd); from then on the reactor owns
//   the fd. close(token) cancels what is armed, closes the fd once no operation on it is
//   outstanding, and then calls on_closed(token): only after that may the token be reused.
// - Received bytes arrive in buffers lent by the reactor (a provided buffer ring under
//   io_uring). Every buffer has kRecvHeadroom writable bytes in front of data, so a caller
//   can prepend a short header in place. The handler gives a buffer back with
//   release_buffer(id), typically when the send that uses it has completed. An idle socket
//   holds no buffer.
// - One send per socket at a time; the iovecs must stay valid until on_send. A send never
//   waits for room in the socket: when the socket is full it completes with -EAGAIN (so the
//   caller can copy out what it holds in receive buffers and give them back), and the next
//   send on that socket waits until the socket is writable.
// - Fairness: in one turn of the loop a socket is handed buffers only until it has had
//   kRecvTurnBudget bytes (the buffer that crosses the budget is its last of the turn, and
//   it always gets one); what else it has received waits, in order, for the next turn, after
//   the other sockets have had theirs. So one peer's burst cannot hold the loop for long.
//   on_recv_end always follows the socket's last buffer.
// - Closing a socket costs the same however many others are open.
// - Failures to create a reactor are reported, never fatal: make_reactor returns nullptr
//   and says, in one line, which resource could not be had.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace wsring::net {

using Token = uint32_t;  // the caller's name for a socket: a dense index it chooses

constexpr size_t kRecvHeadroom = 16;
constexpr size_t kRecvTurnBudget = 64 * 1024;  // bytes handed to one socket per loop turn

struct RecvBuffer {
  uint8_t* data = nullptr;  // kRecvHeadroom writable bytes lie before data
  size_t size = 0;          // bytes received
  size_t capacity = 0;      // bytes the buffer could hold after data
  uint16_t id = 0;          // give back with Reactor::release_buffer(id)
};

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  // A new connection from a listening socket (already non-blocking, TCP_NODELAY set: listen()
  // sets it on the listening socket, and accepted sockets inherit it).
  // The handler must open() it or ::close() it.
  // listen_fd: the listening socket it came from (a reactor may listen on several).
  virtual void on_accept(int fd, int listen_fd) = 0;
  // Outcome of Reactor::connect: 0 or -errno. On success the socket is open() already.
  virtual void on_connect(Token, int /*result*/) {}
  virtual void on_recv(Token token, const RecvBuffer& buffer) = 0;
  // No more data will arrive (it follows the socket's last buffer): 0 = orderly end of
  // stream from the peer, else -errno (also when the backend cannot watch the socket).
  virtual void on_recv_end(Token token, int error) = 0;
  // A send completed: bytes sent (may be short: continue from there) or -errno; -EAGAIN
  // means the socket was full and nothing was sent (the next send waits for room).
  virtual void on_send(Token token, int result) = 0;
  // After close(token): every operation is over and the fd is closed.
  virtual void on_closed(Token token) = 0;
  // Called about every tick_ms (Options) with a monotonic clock in milliseconds, and as soon as
  // possible after the time wake_at_us() asks for.
  virtual void on_tick(uint64_t /*now_ms*/) {}
  // Called after each turn's batch of events. True: the handler left work for the next turn
  // (a bounded amount of work per turn), so the reactor only collects what is ready and runs
  // another turn at once instead of sleeping.
  virtual bool on_turn_end() { return false; }
  // A precise wake-up between ticks: a monotonic_us() time at which on_tick should run (0: none).
  // Read once per loop turn; the wait ends then, to the microsecond, instead of polling (a paced
  // sender needs microseconds, a server's timers need milliseconds).
  virtual uint64_t wake_at_us() const { return 0; }
  // A value another reactor of this process posted to this one (Reactor::post), on this
  // reactor's thread, in the order each sender posted.
  virtual void on_message(uint64_t /*value*/) {}
};

struct ReactorOptions {
  uint32_t recv_buffer_size = 64 * 1024;  // bytes per receive buffer, headroom included (at most 1 GiB)
  uint32_t recv_buffer_count = 512;       // a power of two up to 32768 (io_uring buffer ring entries)
  uint32_t max_sockets = 1 << 20;         // tokens must be below this
  uint32_t registered_files = 65536;      // io_uring: sockets with a token below this (and below
                                          // RLIMIT_NOFILE) sit in the ring's file table
  uint32_t tick_ms = 50;                  // 0: poll without sleeping, tick every loop turn
};

enum class Backend { Auto, IoUring, Epoll };

class Reactor {
 public:
  virtual ~Reactor() = default;
  virtual const char* name() const = 0;

  // Accept connections on a listening socket until stop_accepting(). May be called for several
  // listening sockets; on_accept says which one a connection came from.
  virtual void listen(int listen_fd) = 0;
  virtual void stop_accepting() = 0;

  // Takes ownership of fd and starts receiving.
  virtual void open(Token token, int fd) = 0;
  // Starts a non-blocking connect of fd (owned from now on) to addr; on_connect reports it.
  virtual void connect(Token token, int fd, const sockaddr* addr, socklen_t len) = 0;
  // Backpressure: stop and resume reading a socket. After pause_recv nothing more is read,
  // but buffers already received for the socket may still be delivered. Both are idempotent.
  virtual void pause_recv(Token token) = 0;
  virtual void resume_recv(Token token) = 0;
  // One send in flight per socket. iov must stay valid until on_send(token). A send on a
  // socket being closed is dropped (no on_send: after close() only on_closed comes).
  virtual void send(Token token, const iovec* iov, int iov_count) = 0;
  virtual void release_buffer(uint16_t id) = 0;
  // Sends FIN (shutdown SHUT_WR); reading goes on.
  virtual void shutdown_write(Token token) = 0;
  // reset: abort the connection (RST, SO_LINGER 0) instead of an orderly FIN.
  virtual void close(Token token, bool reset = false) = 0;
  // Starts what this turn has queued now instead of at the turn's end (io_uring; epoll sends at
  // once). For a handler about to hold the thread a while (a TLS handshake step): the replies
  // it has made so far leave first.
  virtual void start_queued() {}

  // Runs until stop() (callable from the handler or another thread) is seen.
  virtual void run(EventHandler& handler) = 0;
  virtual void stop() = 0;

  virtual uint32_t buffers_in_use() const = 0;
  // Times a socket found no receive buffer left and stopped reading until one came back.
  virtual uint64_t buffer_starvations() const { return 0; }
  // The socket of an open token (-1 if none), for cold-path questions such as getpeername().
  virtual int socket_of(Token /*token*/) const { return -1; }

  // Cross-thread messages, without locks: called on this reactor's thread, queues `value` for
  // `target` (another reactor of this process, of the same backend) and wakes it (io_uring:
  // IORING_OP_MSG_RING from this ring, else an eventfd); target's handler gets on_message(value)
  // on its own thread. False when target's mailbox is full: the value was not queued.
  virtual bool post(Reactor& /*target*/, uint64_t /*value*/) { return false; }
  // Hands every value still queued for this reactor to `handler` (after run() has returned, so
  // that what they point to can be given back).
  virtual void drain_messages(EventHandler& /*handler*/) {}

  // Monotonic milliseconds, read once per loop iteration: callbacks of one batch share it,
  // so the hot path reads no clock.
  virtual uint64_t now_ms() const;
};

// Creates a reactor. Auto tries io_uring and falls back to epoll; `why` says why this
// backend was taken (for the start-up log). Returns nullptr with `why` set on failure: bad
// options, or a resource (memory, the ring, the buffer ring) the system refused.
std::unique_ptr<Reactor> make_reactor(Backend backend, const ReactorOptions& options, std::string* why);

const char* backend_name(Backend backend);

}  // namespace wsring::net
