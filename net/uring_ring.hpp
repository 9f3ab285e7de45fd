// The io_uring instance of a reactor and its provided buffer ring: set up with fallbacks
// (one clear line when the kernel refuses), submission entries that never run out, buffers
// given back to the kernel in batches. Internal to net/.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

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

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {  // the SQ is full: submit what it holds
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
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
};

}  // namespace wsring::net
