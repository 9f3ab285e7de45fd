// A test tool, loaded with LD_PRELOAD: operator new fails (throws std::bad_alloc; the nothrow
// forms return nullptr) for one allocation in ONE_IN during a time window, so a test can check
// that a process survives running out of memory in any allocation it makes, not only in the
// few an address-space limit happens to hit. malloc itself is left alone (OpenSSL and zlib
// check for NULL; C++ containers are what throws).
//
//   WSRING_FAIL_ALLOCATIONS="ONE_IN FOR_MS ARM_FILE"   e.g. "2 2000 /tmp/x/arm"
//
// The window opens when ARM_FILE exists (the test creates it once the process has started:
// start-up failures would prove nothing) and lasts FOR_MS.
// At exit it writes "fail-allocations: F of N allocations failed" to stderr.
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace {

uint64_t one_in = 0;
uint64_t window_ms = 0;
char arm_file[512];
std::atomic<uint64_t> window_end_ns{0};  // 0 until armed
std::atomic<uint64_t> calls{0};
std::atomic<uint64_t> failed{0};

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

__attribute__((constructor)) void read_settings() {
  const char* text = getenv("WSRING_FAIL_ALLOCATIONS");
  unsigned long long n = 0, for_ms = 0;
  if (!text || sscanf(text, "%llu %llu %511s", &n, &for_ms, arm_file) != 3 || n == 0) return;
  one_in = n;
  window_ms = for_ms;
}

__attribute__((destructor)) void report() {
  if (one_in == 0) return;
  char line[128];
  const int n = snprintf(line, sizeof line, "fail-allocations: %llu of %llu allocations failed\n",
                         static_cast<unsigned long long>(failed.load()), static_cast<unsigned long long>(calls.load()));
  if (n > 0) (void)!write(2, line, size_t(n));
}

// Spread over the calls by a multiplicative hash of the call number: no pattern a loop could
// fall into step with.
bool should_fail() {
  const uint64_t call = calls.fetch_add(1, std::memory_order_relaxed);
  if (one_in == 0) return false;
  const uint64_t now = monotonic_ns();
  uint64_t end = window_end_ns.load(std::memory_order_relaxed);
  if (end == 0) {
    if (access(arm_file, F_OK) != 0) return false;
    uint64_t expected = 0;
    window_end_ns.compare_exchange_strong(expected, now + window_ms * 1000000u);
    end = window_end_ns.load();
  }
  if (now >= end) return false;
  if (((call * 0x9E3779B97F4A7C15ull) >> 40) % one_in != 0) return false;
  failed.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void* allocate(size_t size, size_t alignment) {
  if (size == 0) size = 1;
  if (alignment <= alignof(std::max_align_t)) return malloc(size);
  return aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}

void* allocate_or_throw(size_t size, size_t alignment) {
  void* p = should_fail() ? nullptr : allocate(size, alignment);
  if (!p) throw std::bad_alloc();
  return p;
}

void* allocate_or_null(size_t size, size_t alignment) noexcept {
  return should_fail() ? nullptr : allocate(size, alignment);
}

}  // namespace

void* operator new(size_t size) { return allocate_or_throw(size, 0); }
void* operator new[](size_t size) { return allocate_or_throw(size, 0); }
void* operator new(size_t size, std::align_val_t a) { return allocate_or_throw(size, size_t(a)); }
void* operator new[](size_t size, std::align_val_t a) { return allocate_or_throw(size, size_t(a)); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return allocate_or_null(size, 0); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return allocate_or_null(size, 0); }
void* operator new(size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_or_null(size, size_t(a));
}
void* operator new[](size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_or_null(size, size_t(a));
}
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { free(p); }
