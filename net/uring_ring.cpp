#include "net/uring_ring.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace wsring::net {

UringRing::~UringRing() {
  if (ready_) io_uring_queue_exit(&ring_);
  if (buf_ring_) munmap(buf_ring_, buf_ring_bytes_);
}

bool UringRing::setup(unsigned sq_entries, std::string* error) {
  // A CQ four times the SQ: multishot recvs post many completions per submission, and an
  // overflowing CQ costs a slow path in the kernel.
  const unsigned flag_sets[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_COOP_TASKRUN,
      0,
  };
  io_uring_params p{};
  int rc = -EINVAL;
  for (unsigned flags : flag_sets) {  // -EINVAL: a flag this kernel does not know
    p = {};
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = sq_entries * 4;
    rc = io_uring_queue_init_params(sq_entries, &ring_, &p);
    if (rc != -EINVAL) break;
  }
  if (rc < 0) {
    *error = std::string("io_uring_setup failed: ") + strerror(-rc);
    if (rc == -EPERM || rc == -ENOSYS)
      *error += " (blocked by a seccomp profile or kernel.io_uring_disabled, or not built into the kernel)";
    if (rc == -ENOMEM) *error += " (a ring of " + std::to_string(sq_entries) + " entries needs locked memory)";
    return false;
  }
  ready_ = true;
  defer_taskrun_ = p.flags & IORING_SETUP_DEFER_TASKRUN;
  if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_FAST_POLL)) {
    *error = "kernel io_uring lacks EXT_ARG/FAST_POLL (needs Linux 5.11+)";
    return false;
  }
  can_skip_cqes_ = p.features & IORING_FEAT_CQE_SKIP;
  io_uring_register_ring_fd(&ring_);  // an optimisation only: failure is harmless
  return true;
}

void UringRing::submit_and_wait(uint64_t timeout_us, unsigned deferred) {
  if (io_uring_cq_ready(&ring_) > 0) {
    // Completions are in the CQ already (a full SQ was submitted mid-turn, as a push tick of
    // thousands of sends does): liburing would enter without asking for completions, and a
    // DEFER_TASKRUN ring would run none of its receives and accepts in this turn; if every
    // turn did that, handshakes and close frames would never be read.
    io_uring_submit(&ring_);
    if (defer_taskrun_) run_deferred_work(deferred);
    return;
  }
  __kernel_timespec timeout{};
  timeout.tv_sec = (long long)(timeout_us / 1000000);
  timeout.tv_nsec = (long long)(timeout_us % 1000000) * 1000;
  io_uring_cqe* cqe = nullptr;
  const int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
    // Nothing sensible to do but retry; avoid spinning on a persistent error.
    usleep(1000);
  }
}

bool UringRing::enable_fixed_files(uint32_t wanted) {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return false;
  const unsigned slots = unsigned(std::min<uint64_t>(files.rlim_cur, wanted));
  try {
    fixed_fds_.assign(slots, -1);
  } catch (const std::bad_alloc&) {
    fixed_fds_ = {};
    return false;
  }
  if (slots == 0 || io_uring_register_files_sparse(&ring_, slots) < 0) {
    fixed_fds_ = {};
    return false;
  }
  return true;
}

bool UringRing::setup_buffers(const RecvBufferSlab& slab, uint16_t group, std::string* error) {
  const uint32_t entries = slab.count();  // a power of two (validate_reactor_options)
  buf_ring_bytes_ = entries * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    *error = "cannot map the io_uring buffer ring (" + std::to_string(entries) + " entries): " + strerror(errno);
    return false;
  }
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = entries;
  reg.bgid = group;
  const int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    *error = "cannot register the io_uring provided buffer ring (" + std::to_string(entries) +
             " buffers): " + strerror(-rc);
    return false;
  }
  io_uring_buf_ring_init(buf_ring_);
  buf_mask_ = io_uring_buf_ring_mask(entries);
  slab_ = &slab;
  for (uint32_t i = 0; i < entries; ++i) add_buffer(uint16_t(i));
  flush_buffers();
  return true;
}

// A wait with a zero timeout for more completions than the CQ holds: the kernel runs up to
// `count` items of task work, finds too few completions and returns -ETIME at once. (liburing
// asks the kernel for completions only when more are wanted than are in the CQ already.)
void UringRing::run_deferred_work(unsigned count) {
  const unsigned ready = io_uring_cq_ready(&ring_);
  const unsigned room = ring_.cq.ring_entries - ready;
  __kernel_timespec zero{};
  io_uring_cqe* cqe = nullptr;
  // What the completions so far queued (their replies) leaves in the same enter: the peers get
  // their answers before the next receives are processed.
  io_uring_submit_and_wait_timeout(&ring_, &cqe, ready + std::min(count, room / 2), &zero, nullptr);
}

bool UringRing::supports(int op) {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (!probe) return false;
  const bool yes = io_uring_opcode_supported(probe, op);
  io_uring_free_probe(probe);
  return yes;
}

}  // namespace wsring::net
