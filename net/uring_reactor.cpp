// io_uring backend. Techniques:
// - SINGLE_ISSUER | DEFER_TASKRUN: one thread owns the ring, so completions are run only
//   when we wait for them (no IPIs, batched task work); falls back to COOP_TASKRUN, then none.
// - One multishot accept per listener, one multishot recv per socket drawing from a provided
//   buffer ring: an idle socket holds no buffer, and one recv SQE serves the socket's life.
// - Registered ring fd: io_uring_enter skips the fd lookup.
// - One io_uring_submit_and_wait_timeout per loop iteration, then the whole CQ in a batch.
// - user_data packs (operation, token) so a completion is dispatched without a lookup.
#include <liburing.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include "net/reactor_state.hpp"
#include "net/socket.hpp"

namespace wsring::net {
namespace {

enum class Op : uint8_t { Accept = 1, Recv, Send, Connect, Cancel, Close, Poll };

constexpr uint64_t pack(Op op, Token token) { return (uint64_t(op) << 56) | token; }
constexpr Op op_of(uint64_t user_data) { return Op(user_data >> 56); }
constexpr Token token_of(uint64_t user_data) { return Token(user_data & 0xffffffffu); }

constexpr uint16_t kBufferGroup = 0;
constexpr uint32_t kNoMsg = 0xffffffffu;  // SocketSlot::extra when no msghdr slot is held

class UringReactor final : public Reactor {
 public:
  explicit UringReactor(const ReactorOptions& options) : options_(options), slab_(options.recv_buffer_size, options.recv_buffer_count) {}

  ~UringReactor() override {
    // Tear the ring down first (it holds references to the sockets), then close what we own.
    if (ring_ready_) io_uring_queue_exit(&ring_);  // also drops the buffer ring registration
    sockets_.close_all();
    if (buf_ring_) munmap(buf_ring_, buf_ring_bytes_);
  }

  bool init(std::string* error) {
    // A CQ four times the SQ: multishot recvs post many completions per submission, and an
    // overflowing CQ costs a slow path in the kernel.
    const unsigned sq_entries = 4096;
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
    p.cq_entries = sq_entries * 4;
    int rc = io_uring_queue_init_params(sq_entries, &ring_, &p);
    if (rc == -EINVAL) {
      p = {};
      p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
      p.cq_entries = sq_entries * 4;
      rc = io_uring_queue_init_params(sq_entries, &ring_, &p);
    }
    if (rc == -EINVAL) {
      p = {};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = sq_entries * 4;
      rc = io_uring_queue_init_params(sq_entries, &ring_, &p);
    }
    if (rc < 0) {
      *error = std::string("io_uring_setup failed: ") + strerror(-rc);
      if (rc == -EPERM || rc == -ENOSYS)
        *error += " (blocked by a seccomp profile or kernel.io_uring_disabled, or not built into the kernel)";
      return false;
    }
    ring_ready_ = true;
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_FAST_POLL)) {
      *error = "kernel io_uring lacks EXT_ARG/FAST_POLL (needs Linux 5.11+)";
      return false;
    }
    io_uring_register_ring_fd(&ring_);  // an optimisation only: failure is harmless

    // Provided buffer ring, set up by hand (liburing 2.3 has no io_uring_setup_buf_ring).
    const uint32_t entries = options_.recv_buffer_count;
    if (entries == 0 || (entries & (entries - 1)) != 0 || entries > 32768) {
      *error = "receive buffer count must be a power of two up to 32768";
      return false;
    }
    buf_ring_bytes_ = entries * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
      *error = "cannot map the buffer ring";
      return false;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = entries;
    reg.bgid = kBufferGroup;
    rc = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (rc < 0) {
      munmap(buf_ring_, buf_ring_bytes_);
      buf_ring_ = nullptr;
      *error = std::string("cannot register a provided buffer ring: ") + strerror(-rc);
      return false;
    }
    io_uring_buf_ring_init(buf_ring_);
    buf_mask_ = io_uring_buf_ring_mask(entries);
    for (uint32_t i = 0; i < entries; ++i) add_buffer(uint16_t(i));
    io_uring_buf_ring_advance(buf_ring_, int(pending_buffer_adds_));
    pending_buffer_adds_ = 0;
    return true;
  }

  const char* name() const override { return "io_uring"; }

  void listen(int listen_fd) override {
    listen_fd_ = listen_fd;
    accepting_ = true;
    arm_accept();
  }

  void stop_accepting() override {
    if (!accepting_) return;
    accepting_ = false;
    if (accept_armed_) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, pack(Op::Accept, 0), 0);
      io_uring_sqe_set_data64(sqe, pack(Op::Cancel, 0));
    }
  }

  void open(Token token, int fd) override {
    // What may allocate comes first, so that running out of memory here leaves nothing half
    // registered (the caller closes the socket); and starved_ gets room for this socket now, so
    // that the completion loop, where std::bad_alloc would end the process, never grows it.
    if (starved_.capacity() <= token) starved_.reserve(2 * (size_t(token) + 512));
    SocketSlot& s = sockets_[token];
    s.fd = fd;
    s.flags = kOpen;
    s.extra = kNoMsg;
    arm_recv(token, s);
  }

  void connect(Token token, int fd, const sockaddr* addr, socklen_t len) override {
    SocketSlot& s = sockets_[token];
    s.fd = fd;
    s.flags = kOpen | kConnecting;
    s.extra = kNoMsg;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_connect(sqe, fd, addr, len);
    io_uring_sqe_set_data64(sqe, pack(Op::Connect, token));
  }

  void pause_recv(Token token) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kRecvPaused) return;
    s.flags |= kRecvPaused;
    s.flags &= uint32_t(~kRecvStarved);
    if (s.flags & kRecvArmed) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, pack(Op::Recv, token), 0);
      io_uring_sqe_set_data64(sqe, pack(Op::Cancel, token));
    }
  }

  void resume_recv(Token token) override {
    SocketSlot& s = sockets_[token];
    if (!(s.flags & kRecvPaused)) return;
    s.flags &= uint32_t(~kRecvPaused);
    if (!(s.flags & kRecvArmed)) arm_recv(token, s);
  }

  void send(Token token, const iovec* iov, int iov_count) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kClosing) return;  // after close() nothing but on_closed is delivered
    s.flags |= kSendInFlight;
    if (s.flags & kWaitWritable) {
      // The last send found the socket full: wait for room first (a poll linked to the send).
      io_uring_sqe* poll = get_sqe();
      io_uring_prep_poll_add(poll, s.fd, POLLOUT);
      io_uring_sqe_set_data64(poll, pack(Op::Poll, token));
      poll->flags |= IOSQE_IO_LINK;
    }
    // MSG_DONTWAIT: a full socket fails the send with -EAGAIN instead of parking it in the
    // kernel, so a peer that does not read never pins receive buffers (see reactor.hpp).
    io_uring_sqe* sqe = get_sqe();
    if (iov_count == 1) {
      io_uring_prep_send(sqe, s.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      // sendmsg needs a msghdr that outlives the submission: borrow a slot for the send.
      uint32_t slot;
      if (!free_msgs_.empty()) {
        slot = free_msgs_.back();
        free_msgs_.pop_back();
      } else {
        slot = uint32_t(msgs_.size());
        msgs_.emplace_back();
      }
      s.extra = slot;
      msghdr& m = msgs_[slot];
      m = msghdr{};
      m.msg_iov = const_cast<iovec*>(iov);
      m.msg_iovlen = size_t(iov_count);
      io_uring_prep_sendmsg(sqe, s.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    io_uring_sqe_set_data64(sqe, pack(Op::Send, token));
  }

  void release_buffer(uint16_t id) override {
    add_buffer(id);
    --buffers_out_;
  }

  void shutdown_write(Token token) override { ::shutdown(sockets_[token].fd, SHUT_WR); }

  void close(Token token, bool reset) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kClosing) return;
    if (reset) {
      linger l{1, 0};
      setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    s.flags |= kClosing;
    s.flags &= uint32_t(~kRecvStarved);
    if (s.flags & (kRecvArmed | kSendInFlight | kConnecting)) {
      // Cancel everything on the fd; the completions come back with -ECANCELED (or their
      // result, if they raced) and the last one submits the close.
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel_fd(sqe, s.fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, pack(Op::Cancel, token));
    } else {
      submit_close(token, s);
    }
  }

  void run(EventHandler& handler) override {
    handler_ = &handler;
    uint64_t next_tick = monotonic_ms() + options_.tick_ms;
    while (!stop_requested_.load(std::memory_order_relaxed)) {
      flush_buffer_adds();
      __kernel_timespec timeout{};
      timeout.tv_nsec = long(options_.tick_ms) * 1000000L;
      io_uring_cqe* cqe = nullptr;
      int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
      if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
        // Nothing sensible to do but retry; avoid spinning on a persistent error.
        usleep(1000);
      }
      now_ms_ = monotonic_ms();
      unsigned head, seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        dispatch(cqe->user_data, cqe->res, cqe->flags);
      }
      io_uring_cq_advance(&ring_, seen);
      rearm_starved();
      const uint64_t now = now_ms_;
      if (now >= next_tick) {
        next_tick = now + options_.tick_ms;
        if (accepting_ && !accept_armed_ && now >= accept_retry_ms_) arm_accept();
        handler.on_tick(now);
      }
    }
  }

  void stop() override { stop_requested_.store(true, std::memory_order_relaxed); }

  uint64_t now_ms() const override { return now_ms_; }

  uint32_t buffers_in_use() const override { return buffers_out_; }

 private:
  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void add_buffer(uint16_t id) {
    io_uring_buf_ring_add(buf_ring_, slab_.data(id), slab_.capacity(), id, buf_mask_, int(pending_buffer_adds_));
    ++pending_buffer_adds_;
  }

  void flush_buffer_adds() {
    if (pending_buffer_adds_) {
      io_uring_buf_ring_advance(buf_ring_, int(pending_buffer_adds_));
      pending_buffer_adds_ = 0;
    }
  }

  void arm_accept() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, pack(Op::Accept, 0));
    accept_armed_ = true;
  }

  void arm_recv(Token token, SocketSlot& s) {
    if (s.flags & (kRecvArmed | kRecvPaused | kRecvEnded | kClosing)) return;
    if (buffers_out_ >= slab_.count()) {  // no buffer to give: wait for one to return
      if (!(s.flags & kRecvStarved)) {
        s.flags |= kRecvStarved;
        starved_.push_back(token);
      }
      return;
    }
    s.flags |= kRecvArmed;
    s.flags &= uint32_t(~kRecvStarved);
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, s.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, pack(Op::Recv, token));
  }

  void rearm_starved() {
    while (!starved_.empty() && buffers_out_ < slab_.count()) {
      Token t = starved_.back();
      starved_.pop_back();
      SocketSlot& s = sockets_[t];
      if (!(s.flags & kRecvStarved)) continue;
      s.flags &= uint32_t(~kRecvStarved);
      arm_recv(t, s);
    }
  }

  void submit_close(Token token, SocketSlot& s) {
    if (s.flags & kCloseSubmitted) return;
    s.flags |= kCloseSubmitted;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_close(sqe, s.fd);
    io_uring_sqe_set_data64(sqe, pack(Op::Close, token));
  }

  void maybe_finish_close(Token token, SocketSlot& s) {
    if ((s.flags & kClosing) && !(s.flags & (kRecvArmed | kSendInFlight | kConnecting))) submit_close(token, s);
  }

  void dispatch(uint64_t user_data, int res, uint32_t flags) {
    const Token token = token_of(user_data);
    switch (op_of(user_data)) {
      case Op::Accept: on_accept_cqe(res, flags); break;
      case Op::Recv: on_recv_cqe(token, res, flags); break;
      case Op::Send: {
        SocketSlot& s = sockets_[token];
        s.flags &= uint32_t(~kSendInFlight);
        if (s.extra != kNoMsg) {
          free_msgs_.push_back(s.extra);
          s.extra = kNoMsg;
        }
        if (res == -EAGAIN)
          s.flags |= kWaitWritable;
        else
          s.flags &= ~uint32_t(kWaitWritable);
        if (s.flags & kClosing) {
          maybe_finish_close(token, s);
        } else {
          handler_->on_send(token, res);
        }
        break;
      }
      case Op::Connect: {
        SocketSlot& s = sockets_[token];
        s.flags &= uint32_t(~kConnecting);
        if (s.flags & kClosing) {
          maybe_finish_close(token, s);
          break;
        }
        if (res == 0) {
          set_tcp_nodelay(s.fd);
          arm_recv(token, s);
        }
        handler_->on_connect(token, res);
        break;
      }
      case Op::Close: {
        SocketSlot& s = sockets_[token];
        s = SocketSlot{};
        handler_->on_closed(token);
        break;
      }
      case Op::Cancel:
      case Op::Poll: break;  // a poll's failure shows in its linked send (-ECANCELED)
    }
  }

  void on_accept_cqe(int res, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) accept_armed_ = false;
    if (res >= 0) {
      set_tcp_nodelay(res);
      handler_->on_accept(res);
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
      // Out of descriptors or memory: keep serving what we have and retry accepting later,
      // rather than spinning on an error the kernel will repeat.
      accept_retry_ms_ = now_ms_ + 100;
      if (accept_armed_) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_cancel64(sqe, pack(Op::Accept, 0), 0);
        io_uring_sqe_set_data64(sqe, pack(Op::Cancel, 0));
      }
      return;
    }
    if (!accept_armed_ && accepting_ && now_ms_ >= accept_retry_ms_) arm_accept();
  }

  void on_recv_cqe(Token token, int res, uint32_t flags) {
    SocketSlot& s = sockets_[token];
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) s.flags &= uint32_t(~kRecvArmed);
    if (flags & IORING_CQE_F_BUFFER) {
      const uint16_t id = uint16_t(flags >> IORING_CQE_BUFFER_SHIFT);
      ++buffers_out_;
      if (res > 0 && !(s.flags & kClosing)) {
        RecvBuffer b{slab_.data(id), size_t(res), slab_.capacity(), id};
        handler_->on_recv(token, b);
      } else {
        release_buffer(id);
      }
    }
    if (s.flags & kClosing) {
      maybe_finish_close(token, s);
      return;
    }
    if (res > 0) {
      if (!more) arm_recv(token, s);
      return;
    }
    if (res == -ENOBUFS) {
      if (!(s.flags & kRecvStarved)) {
        s.flags |= kRecvStarved;
        starved_.push_back(token);
      }
      return;
    }
    if (res == -ECANCELED) {  // pause_recv's cancel; a resume may have raced it
      if (!(s.flags & kRecvPaused)) arm_recv(token, s);
      return;
    }
    if (res == 0 || res < 0) {
      if (more) return;  // should not happen: errors end a multishot recv
      if (s.flags & kRecvEnded) return;
      s.flags |= kRecvEnded;
      handler_->on_recv_end(token, res);
    }
  }

  ReactorOptions options_;
  RecvBufferSlab slab_;
  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  int buf_mask_ = 0;
  uint32_t pending_buffer_adds_ = 0;
  uint32_t buffers_out_ = 0;
  SocketTable sockets_;
  std::vector<Token> starved_;
  std::deque<msghdr> msgs_;  // deque: addresses stay put while sends are in flight
  std::vector<uint32_t> free_msgs_;
  EventHandler* handler_ = nullptr;
  int listen_fd_ = -1;
  bool accepting_ = false;
  bool accept_armed_ = false;
  uint64_t accept_retry_ms_ = 0;
  std::atomic<bool> stop_requested_{false};
  uint64_t now_ms_ = monotonic_ms();
};

}  // namespace

std::unique_ptr<Reactor> make_uring_reactor(const ReactorOptions& options, std::string* error) {
  auto r = std::make_unique<UringReactor>(options);
  if (!r->init(error)) return nullptr;
  return r;
}

}  // namespace wsring::net
