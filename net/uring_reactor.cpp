// io_uring backend. Techniques:
// - SINGLE_ISSUER | DEFER_TASKRUN: one thread owns the ring, so completions are run only
//   when we wait for them (no IPIs, batched task work); falls back to COOP_TASKRUN, then none.
// - One multishot accept per listener, one multishot recv per socket drawing from a provided
//   buffer ring: an idle socket holds no buffer, and one recv SQE serves the socket's life.
// - Registered ring fd: io_uring_enter skips the fd lookup; registered files (slot = token):
//   a request skips the socket's file lookup and reference count.
// - One io_uring_submit_and_wait_timeout per loop turn, then the whole CQ in a batch.
// - user_data packs (operation, token) so a completion is dispatched without a lookup, and
//   so that close() cancels a socket's operations by their user_data: a hash lookup, where a
//   cancel by fd scans every request pending on the ring (closing N sockets was O(N^2)).
// - Fairness (reactor.hpp): a socket is handed buffers until it has had kRecvTurnBudget
//   bytes in the loop turn; the rest of its receive completions wait, in order, for the next
//   turn (after everyone else's), and its multishot recv is stopped meanwhile so that one
//   flooding peer cannot take every buffer of the ring. Per completion this costs a compare
//   and an add on the socket's slot, and one push per socket and turn (to reset its count).
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

#include "net/msghdr_pool.hpp"
#include "net/reactor_backend.hpp"
#include "net/socket.hpp"
#include "net/uring_ring.hpp"

namespace wsring::net {
namespace {

enum class Op : uint8_t { Accept = 1, Recv, Send, Connect, Cancel, Close, Poll, Wake, WakeSent, WakeRead };

constexpr uint64_t pack(Op op, Token token) { return (uint64_t(op) << 56) | token; }
constexpr Op op_of(uint64_t user_data) { return Op(user_data >> 56); }
constexpr Token token_of(uint64_t user_data) { return Token(user_data & 0xffffffffu); }

// This backend's own socket flags (SocketSlot::flags, above the shared ones).
constexpr uint16_t kRecvCancelled = kFirstBackendFlag << 0;  // a cancel of the multishot recv is on its way
constexpr uint16_t kRecvBacklog = kFirstBackendFlag << 1;    // some of its recv completions wait for the next turn
constexpr uint16_t kPollArmed = kFirstBackendFlag << 2;      // a POLLOUT poll linked before its send is outstanding
constexpr uint16_t kFixedFile = kFirstBackendFlag << 3;      // its fd sits in the ring's file table at slot = token

constexpr unsigned kSqEntries = 4096;
constexpr uint16_t kBufferGroup = 0;
// Received data handed to one socket per loop turn (reactor.hpp), counted in KiB per slot:
// 64 KiB of 1-byte frames take the echo server a fraction of a millisecond.
constexpr uint32_t kTurnBudgetKiB = uint32_t(kRecvTurnBudget / 1024);
// Deferred task work (handle_events): a batch with this many completions may have hit the
// kernel's per-pass cap of 20; each further round runs up to kDeferredPerRound items (a quarter
// of the CQ: a multishot item may post several completions).
constexpr unsigned kDeferredPerPass = 20;
constexpr unsigned kDeferredPerRound = kSqEntries;
constexpr int kMaxDeferredRounds = 4;

struct DeferredCqe {
  uint64_t user_data;  // 0: dropped by close()
  int32_t res;
  uint32_t flags;
};

class UringReactor final : public ReactorBackend {
 public:
  explicit UringReactor(const ReactorOptions& options) : ReactorBackend(options) {}

  bool init(std::string* error) {
    if (!map_buffers(error) || !ring_.setup(kSqEntries, error) || !ring_.setup_buffers(slab_, kBufferGroup, error))
      return false;
    // Deferred completions hold buffers (at most one each) or end a socket's recv (at most one
    // each): reserved for all buffers and as many ends, so the list rarely grows in the loop.
    backlog_.reserve(2 * size_t(slab_.count()) + 64);
    msg_ring_ = ring_.supports(IORING_OP_MSG_RING);
    ring_.enable_fixed_files(std::min(options_.max_sockets, options_.registered_files));  // else: by fd
    arm_wake_read();
    return true;
  }

  const char* name() const override { return "io_uring"; }

  void open(Token token, int fd) override {
    reserve_socket(token);
    SocketSlot& s = sockets_[token];
    s = SocketSlot{};
    s.fd = fd;
    s.flags = kOpen;
    register_file(token, s);
    arm_recv(token, s);
  }

  void connect(Token token, int fd, const sockaddr* addr, socklen_t len) override {
    reserve_socket(token);
    SocketSlot& s = sockets_[token];
    s = SocketSlot{};
    s.fd = fd;
    s.flags = kOpen | kConnecting;
    register_file(token, s);
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_connect(sqe, fd, addr, len);
    name_file(sqe, token, s);
    io_uring_sqe_set_data64(sqe, pack(Op::Connect, token));
  }

  void pause_recv(Token token) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kRecvPaused) return;
    s.flags |= kRecvPaused;
    s.flags &= uint16_t(~kRecvStarved);
    cancel_recv(token, s);
  }

  void resume_recv(Token token) override {
    SocketSlot& s = sockets_[token];
    if (!(s.flags & kRecvPaused)) return;
    s.flags &= uint16_t(~kRecvPaused);
    arm_recv(token, s);  // if its recv is still armed (a cancel on its way), the end re-arms it
  }

  void send(Token token, const iovec* iov, int iov_count) override {
    SocketSlot& s = sockets_[token];
    if (s.flags & kClosing) return;  // after close() nothing but on_closed is delivered
    s.flags |= kSendInFlight;
    if (s.flags & kWaitWritable) {
      // The last send found the socket full: wait for room first (a poll linked to the send).
      io_uring_sqe* poll = get_sqe();
      io_uring_prep_poll_add(poll, s.fd, POLLOUT);
      name_file(poll, token, s);
      io_uring_sqe_set_data64(poll, pack(Op::Poll, token));
      poll->flags |= IOSQE_IO_LINK;
      s.flags |= kPollArmed;
    }
    // MSG_DONTWAIT: a full socket fails the send with -EAGAIN instead of parking it in the
    // kernel, so a peer that does not read never pins receive buffers (see reactor.hpp), and
    // a send never needs cancelling.
    // sendmsg needs a msghdr that outlives the submission; when none can be had (memory ran out)
    // the first segment goes alone: a short send, which the caller completes like any other.
    if (iov_count > 1 && (s.send_msghdr = msghdrs_.take()) == kNoMsghdr) iov_count = 1;
    io_uring_sqe* sqe = get_sqe();
    if (iov_count == 1) {
      io_uring_prep_send(sqe, s.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      msghdr& m = msghdrs_[s.send_msghdr];
      m = msghdr{};
      m.msg_iov = const_cast<iovec*>(iov);
      m.msg_iovlen = size_t(iov_count);
      io_uring_prep_sendmsg(sqe, s.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    name_file(sqe, token, s);
    io_uring_sqe_set_data64(sqe, pack(Op::Send, token));
  }

  void release_buffer(uint16_t id) override {
    ring_.add_buffer(id);
    --buffers_out_;
  }

 private:
  io_uring_sqe* get_sqe() { return ring_.get_sqe(); }

  // A socket goes into the ring's file table when it has a slot; its requests then name the slot.
  void register_file(Token token, SocketSlot& s) {
    if (!ring_.has_fixed_slot(token)) return;
    ring_.queue_fixed_file(token, s.fd, pack(Op::Cancel, token));
    s.flags |= kFixedFile;
  }
  static void name_file(io_uring_sqe* sqe, Token token, const SocketSlot& s) {
    if (!(s.flags & kFixedFile)) return;
    sqe->fd = int(token);
    sqe->flags |= IOSQE_FIXED_FILE;
  }

  // --- cross-thread wakes (ReactorBackend::post)

  int ring_fd() const override { return ring_.fd(); }

  // Another io_uring reactor is woken by a MSG_RING from this ring (one SQE, submitted with the
  // rest of this turn's); anything else through its eventfd.
  void wake(ReactorBackend& target) override {
    const int fd = target.ring_fd();
    if (!msg_ring_ || fd < 0) {
      ReactorBackend::wake(target);
      return;
    }
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_msg_ring(sqe, fd, 0, pack(Op::Wake, 0), 0);
    io_uring_sqe_set_data64(sqe, pack(Op::WakeSent, 0));
    if (ring_.can_skip_cqes()) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  }

  // The eventfd is read by the ring too (wakes from reactors that cannot MSG_RING this one).
  void arm_wake_read() {
    if (wake_fd_ < 0) return;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_count_, sizeof wake_count_, 0);
    io_uring_sqe_set_data64(sqe, pack(Op::WakeRead, 0));
  }

  void submit_cancel(uint64_t target, Token token) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, pack(Op::Cancel, token));
    if (ring_.can_skip_cqes()) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;  // the target's own CQE says it all
  }

  // --- the loop (ReactorBackend::run)
  void start_queued() override { ring_.submit(); }
  void wait(uint64_t timeout_us) override {
    ring_.flush_buffers();
    ring_.submit_and_wait(backlog_.empty() ? timeout_us : 0, kDeferredPerRound);  // backlog: collect only
  }

  // Linux 6.13+ runs at most 20 items of deferred task work (a receive, an accept) per pass of
  // io_uring_enter, and leaves the rest for the next enter. A turn that sends heavily (a push
  // tick of thousands of sends) then saw only a few dozen receives and accepts: handshakes and
  // close frames starved behind the sends. A batch that may have hit that cap asks for the rest
  // in the same turn (a few rounds at most, so a flood cannot hold the turn forever).
  void handle_events() override {
    if (!backlog_.empty()) run_backlog();
    for (int round = 0;; ++round) {
      const unsigned deferred = take_completions();
      if (deferred < kDeferredPerPass || round == kMaxDeferredRounds || !ring_.defers_task_work()) break;
      ring_.run_deferred_work(kDeferredPerRound);
    }
    ++turn_;  // a new turn, a new budget for every socket (see kib_this_turn)
  }

  // Hands over the whole CQ; returns how many completions came from task work (not sends).
  unsigned take_completions() {
    unsigned head, seen = 0, deferred = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring_.ring(), head, cqe) {
      ++seen;
      if (op_of(cqe->user_data) != Op::Send) ++deferred;
      take(cqe->user_data, cqe->res, cqe->flags);
    }
    io_uring_cq_advance(ring_.ring(), seen);
    return deferred;
  }

  void take(uint64_t user_data, int res, uint32_t flags) {
    if (op_of(user_data) != Op::Recv) {
      dispatch(user_data, res, flags);
      return;
    }
    const Token token = token_of(user_data);
    SocketSlot& s = sockets_[token];
    if (flags & IORING_CQE_F_BUFFER) ++buffers_out_;
    // Over its budget (or behind earlier completions that are): wait for the next turn.
    // A closing socket never waits: its buffers go straight back.
    if ((s.flags & kRecvBacklog) || (kib_this_turn(s) >= kTurnBudgetKiB && !(s.flags & kClosing))) {
      defer(token, s, DeferredCqe{user_data, res, flags});
      return;
    }
    on_recv_cqe(token, s, res, flags);
  }

  void defer(Token token, SocketSlot& s, const DeferredCqe& c) {
    if (backlog_.size() == backlog_.capacity()) {
      // Reserved for every buffer plus one end per socket: growing is rare, and when memory has
      // run out the socket's input ends here (its handler fails that connection, not the process).
      try {
        backlog_.reserve(2 * backlog_.capacity());
      } catch (const std::bad_alloc&) {
        if (c.flags & IORING_CQE_F_BUFFER) release_buffer(uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT));
        if (!(c.flags & IORING_CQE_F_MORE)) s.flags &= uint16_t(~(kRecvArmed | kRecvCancelled));
        cancel_recv(token, s);
        if (!(s.flags & kRecvEnded)) {
          s.flags |= kRecvEnded;
          handler_->on_recv_end(token, -ENOMEM);
        }
        return;
      }
    }
    backlog_.push_back(c);
    if (s.flags & kRecvBacklog) return;
    s.flags |= kRecvBacklog;
    // Stop its recv while the backlog lasts; the recv's last completion (queued behind the
    // backlog) re-arms it.
    if (c.flags & IORING_CQE_F_MORE) cancel_recv(token, s);
  }

  // The completions deferred by the last turn go first, in order, within this turn's budget;
  // what exceeds it waits again, and so does everything arriving behind it for that socket.
  // What waits again moves to the front, so the list never grows here. An entry is cleared as it
  // is taken: a close during its delivery (drop_backlog) must not give its buffer back again.
  void run_backlog() {
    for (const DeferredCqe& c : backlog_)
      if (c.user_data) sockets_[token_of(c.user_data)].flags &= uint16_t(~kRecvBacklog);
    size_t waiting = 0;
    for (size_t i = 0; i < backlog_.size(); ++i) {
      const DeferredCqe c = backlog_[i];
      backlog_[i].user_data = 0;
      if (!c.user_data) continue;
      const Token token = token_of(c.user_data);
      SocketSlot& s = sockets_[token];
      if ((s.flags & kRecvBacklog) || kib_this_turn(s) >= kTurnBudgetKiB) {
        s.flags |= kRecvBacklog;
        backlog_[waiting++] = c;
        continue;
      }
      on_recv_cqe(token, s, c.res, c.flags);
    }
    backlog_.resize(waiting);
  }

  // close(): the socket's deferred completions are not delivered; their buffers go back.
  void drop_backlog(Token token, SocketSlot& s) {
    for (DeferredCqe& c : backlog_) {
      if (c.user_data != pack(Op::Recv, token)) continue;
      if (c.flags & IORING_CQE_F_BUFFER) release_buffer(uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT));
      if (!(c.flags & IORING_CQE_F_MORE)) s.flags &= uint16_t(~(kRecvArmed | kRecvCancelled));
      c.user_data = 0;
    }
    s.flags &= uint16_t(~kRecvBacklog);
  }

  // A slot's turn_kib holds the turn it counts for (4 bits of turn_) and the KiB handed over in
  // that turn (12 bits): a count from an older turn reads as 0, so no list of the sockets served
  // needs resetting after each turn. (A count 16 turns old reads as current: at worst a socket
  // waits one extra turn.)
  uint32_t kib_this_turn(const SocketSlot& s) const {
    return (s.turn_kib >> 12) == (turn_ & 0xf) ? s.turn_kib & 0xfffu : 0;
  }
  void count_turn(Token, SocketSlot& s, int bytes) {
    const uint32_t kib = kib_this_turn(s) + (uint32_t(bytes) + 1023) / 1024;
    s.turn_kib = uint16_t(((turn_ & 0xf) << 12) | (kib < 0xfff ? kib : 0xfff));
  }

  // --- sockets

  // One multishot accept per listener; its user_data carries the listener's index.
  void arm_accept(size_t i) override {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fds_[i], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, pack(Op::Accept, Token(i)));
    accept_armed_[i] = 1;
  }

  // accept_armed_[i] stays set until the accept's last completion arrives.
  void disarm_accept(size_t i) override { submit_cancel(pack(Op::Accept, Token(i)), 0); }

  void rearm_recv(Token token, SocketSlot& s) override { arm_recv(token, s); }

  void arm_recv(Token token, SocketSlot& s) {
    if (s.flags & (kRecvArmed | kRecvPaused | kRecvEnded | kClosing | kConnecting)) return;
    if (!buffers_left()) {  // no buffer to give: wait for one to return
      mark_starved(token, s);
      return;
    }
    s.flags |= kRecvArmed;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, s.fd, nullptr, 0, 0);
    name_file(sqe, token, s);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, pack(Op::Recv, token));
  }

  void cancel_recv(Token token, SocketSlot& s) {
    if (!(s.flags & kRecvArmed) || (s.flags & kRecvCancelled)) return;
    s.flags |= kRecvCancelled;
    submit_cancel(pack(Op::Recv, token), token);
  }

  // Each operation still outstanding on the socket is cancelled by its own user_data (O(1));
  // their completions come back (-ECANCELED, or their result if they raced) and the last one
  // submits the close. A send needs no cancel (MSG_DONTWAIT), only the poll in front of it.
  void close_socket(Token token, SocketSlot& s) override {
    if (s.flags & kRecvBacklog) drop_backlog(token, s);
    cancel_recv(token, s);
    if (s.flags & kPollArmed) submit_cancel(pack(Op::Poll, token), token);
    if (s.flags & kConnecting) submit_cancel(pack(Op::Connect, token), token);
    maybe_finish_close(token, s);
  }

  void maybe_finish_close(Token token, SocketSlot& s) {
    if (!(s.flags & kClosing) || (s.flags & (kRecvArmed | kSendInFlight | kConnecting | kCloseSubmitted))) return;
    s.flags |= kCloseSubmitted;
    // The table's reference goes first, or the socket would outlive its fd (no FIN).
    if (s.flags & kFixedFile) ring_.queue_fixed_file(token, -1, pack(Op::Cancel, token));
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_close(sqe, s.fd);
    io_uring_sqe_set_data64(sqe, pack(Op::Close, token));
  }

  // --- completions

  void dispatch(uint64_t user_data, int res, uint32_t flags) {
    const Token token = token_of(user_data);
    switch (op_of(user_data)) {
      case Op::Accept: on_accept_cqe(size_t(token), res, flags); break;
      case Op::Recv: on_recv_cqe(token, sockets_[token], res, flags); break;
      case Op::Send: on_send_cqe(token, res); break;
      case Op::Connect: on_connect_cqe(token, res); break;
      case Op::Close: deliver_closed(token); break;
      case Op::Poll: sockets_[token].flags &= uint16_t(~kPollArmed); break;  // a failure shows in its send
      case Op::Cancel: break;  // the target's own completion tells what happened
      case Op::Wake: break;    // run() delivers the messages
      case Op::WakeSent:       // a failed MSG_RING: use eventfds from now on (the wake is seen at the next tick)
        if (res < 0) msg_ring_ = false;
        break;
      case Op::WakeRead:
        if (res > 0 || res == -EINTR) arm_wake_read();
        break;
    }
  }

  void on_accept_cqe(size_t i, int res, uint32_t flags) {
    if (i >= listen_fds_.size()) return;
    if (!(flags & IORING_CQE_F_MORE)) accept_armed_[i] = 0;
    if (res >= 0) {
      handler_->on_accept(res, listen_fds_[i]);
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
      back_off_accept();
      return;
    }
    if (accept_due(i)) arm_accept(i);
  }

  void on_recv_cqe(Token token, SocketSlot& slot, int res, uint32_t flags) {
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) slot.flags &= uint16_t(~(kRecvArmed | kRecvCancelled));
    if (flags & IORING_CQE_F_BUFFER) {
      const uint16_t id = uint16_t(flags >> IORING_CQE_BUFFER_SHIFT);
      if (res > 0 && !(slot.flags & kClosing)) {
        count_turn(token, slot, res);
        handler_->on_recv(token, RecvBuffer{slab_.data(id), size_t(res), slab_.capacity(), id});
      } else {
        release_buffer(id);
      }
    }
    SocketSlot& s = sockets_[token];  // the handler may have grown the table
    if (s.flags & kClosing) {
      maybe_finish_close(token, s);
      return;
    }
    if (more) return;
    if (res > 0 || res == -ECANCELED) {  // ended by pause_recv or a backlog: read again if wanted
      arm_recv(token, s);
    } else if (res == -ENOBUFS) {  // the ring ran dry: read again when buffers return
      mark_starved(token, s);
    } else if (!(s.flags & kRecvEnded)) {
      s.flags |= kRecvEnded;
      handler_->on_recv_end(token, res);
    }
  }

  void on_send_cqe(Token token, int res) {
    SocketSlot& s = sockets_[token];
    s.flags &= uint16_t(~kSendInFlight);
    if (s.send_msghdr != kNoMsghdr) {
      msghdrs_.give_back(s.send_msghdr);
      s.send_msghdr = kNoMsghdr;
    }
    if (res == -EAGAIN)
      s.flags |= kWaitWritable;
    else
      s.flags &= uint16_t(~kWaitWritable);
    if (s.flags & kClosing)
      maybe_finish_close(token, s);
    else
      handler_->on_send(token, res);
  }

  void on_connect_cqe(Token token, int res) {
    SocketSlot& s = sockets_[token];
    s.flags &= uint16_t(~kConnecting);
    if (s.flags & kClosing) {
      maybe_finish_close(token, s);
      return;
    }
    if (res == 0) {
      set_tcp_nodelay(s.fd);
      arm_recv(token, s);
    } else {
      s.flags |= kRecvEnded;
    }
    handler_->on_connect(token, res);
  }

  UringRing ring_;  // destroyed before the base closes the sockets: the ring holds references to them
  std::vector<DeferredCqe> backlog_;  // receive completions waiting for the next turn
  uint32_t turn_ = 0;                 // loop turns so far (fairness budget, see kib_this_turn)
  MsghdrPool msghdrs_;
  bool msg_ring_ = false;    // the kernel has IORING_OP_MSG_RING
  uint64_t wake_count_ = 0;  // the eventfd read's target
};

}  // namespace

std::unique_ptr<Reactor> make_uring_reactor(const ReactorOptions& options, std::string* error) {
  auto r = std::make_unique<UringReactor>(options);
  if (!r->init(error)) return nullptr;
  return r;
}

}  // namespace wsring::net
