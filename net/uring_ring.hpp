// The io_uring instance of a reactor and its provided buffer ring: set up with fallbacks
// (one clear line when the kernel refuses), submission entries that never run out, buffers
// given back to the kernel in batches. Internal to net/.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/reactor_state.hpp"

namespace wsring::net {

class UringRing {
 public:
  UringRing() = default;
  ~UringRing();  // also drops the buffer ring registration
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;

  // SINGLE_ISSUER | DEFER_TASKRUN if the kernel has them (falls back to COOP_TASKRUN, then
  // none), a CQ four times the SQ, the ring fd registered.
  bool setup(unsigned sq_entries, std::string* error);
  // Registers a provided buffer ring (group `group`) holding every buffer of `slab`
  // (set up by hand: liburing 2.3 has no io_uring_setup_buf_ring).
  bool setup_buffers(const RecvBufferSlab& slab, uint16_t group, std::string* error);

  io_uring* ring() { return &ring_; }
  int fd() const { return ready_ ? ring_.ring_fd : -1; }
  // The kernel knows this operation (io_uring_get_probe).
  bool supports(int op);
  // The kernel can skip a successful request's completion (IOSQE_CQE_SKIP_SUCCESS).
  bool can_skip_cqes() const { return can_skip_cqes_; }
  // The ring was set up with DEFER_TASKRUN: receives and accepts complete as deferred task work,
  // run only inside io_uring_enter.
  bool defers_task_work() const { return defer_taskrun_; }
  // Submits what is queued (the replies to the completions taken so far), then runs up to
  // `count` items of deferred task work (at most what half the CQ's free room takes), without
  // waiting: their completions are in the CQ after it. Linux 6.13+ runs at most 20 per pass of
  // an ordinary enter.
  void run_deferred_work(unsigned count);
  // Submits what is queued and waits up to timeout_us for a completion. When completions are in
  // the CQ already it only submits and runs up to `deferred` items of deferred task work.
  void submit_and_wait(uint64_t timeout_us, unsigned deferred);
  void submit() {
    if (io_uring_sq_ready(&ring_)) io_uring_submit(&ring_);
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {  // the SQ is full: submit what it holds
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  // Registered files: a socket whose fd sits in the ring's file table is named by its slot in
  // each SQE (IOSQE_FIXED_FILE), so the kernel skips the file lookup and reference count of every
  // request (fget/fput: 3% of a broadcast's server time). A sparse table, slot = token, of `slots`
  // at most RLIMIT_NOFILE (the kernel's limit); tokens above name their fd. False when the kernel
  // refuses (requests then name the fd).
  bool enable_fixed_files(uint32_t slots);
  bool has_fixed_slot(Token t) const { return t < fixed_fds_.size(); }
  // Queues setting slot t to fd (-1 empties it). Requests queued after it may use the slot: the
  // kernel issues a submission's requests in order and a files update completes at issue.
  void queue_fixed_file(Token t, int fd, uint64_t user_data) {
    fixed_fds_[t] = fd;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_files_update(sqe, &fixed_fds_[t], 1, int(t));
    io_uring_sqe_set_data64(sqe, user_data);
    if (can_skip_cqes_) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  }

  // Gives buffer `id` back to the kernel; visible to it after flush_buffers().
  void add_buffer(uint16_t id) {
    io_uring_buf_ring_add(buf_ring_, slab_->data(id), slab_->capacity(), id, buf_mask_, int(pending_adds_));
    ++pending_adds_;
  }
  void flush_buffers() {
    if (pending_adds_) {
      io_uring_buf_ring_advance(buf_ring_, int(pending_adds_));
      pending_adds_ = 0;
    }
  }

 private:
  io_uring ring_{};
  bool ready_ = false;
  bool can_skip_cqes_ = false;
  bool defer_taskrun_ = false;
  const RecvBufferSlab* slab_ = nullptr;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  int buf_mask_ = 0;
  uint32_t pending_adds_ = 0;
  std::vector<int> fixed_fds_;  // what queued updates read: sized once, never moved
};

}  // namespace wsring::net
