#include "server/output_queue.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

// The test binary's allocator, with a switch: while g_fail_allocations is set, operator new
// throws std::bad_alloc (as when an address-space limit is reached); std::malloc, which the
// chunk pool uses, still works, so only container growth fails.
namespace {
thread_local bool g_fail_allocations = false;
}  // namespace

// Once inlined, GCC sees free() on memory from operator new: here that pairing is the design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (g_fail_allocations) throw std::bad_alloc();
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
// The nothrow forms too: a sanitizer's runtime would otherwise allocate them itself and report
// our free() of its memory as a mismatch.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return g_fail_allocations ? nullptr : std::malloc(size ? size : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace wsring::server {
namespace {

// Sets g_fail_allocations for its scope.
struct FailingAllocations {
  FailingAllocations() { g_fail_allocations = true; }
  ~FailingAllocations() { g_fail_allocations = false; }
};

// Records every owner given back, in order.
class RecordingReleaser final : public SegmentReleaser {
 public:
  RecordingReleaser() { released.reserve(64); }  // recording never allocates (FailingAllocations)
  void release(const Segment& s) override {
    released.push_back(s);
    if (s.owner == Owner::Chunk) chunks->release(s.buffer);
  }
  std::vector<Segment> released;
  ChunkPool* chunks = nullptr;
};

class OutputQueueTest : public ::testing::Test {
 protected:
  OutputQueueTest() { releaser.chunks = &chunks; }

  // What the queue's next send would carry, as one string.
  std::string next_send() {
    const int n = q.prepare_send();
    std::string out;
    for (int i = 0; i < n; ++i) out.append(static_cast<const char*>(q.iov()[i].iov_base), q.iov()[i].iov_len);
    return out;
  }
  size_t released_of(Owner o) const {
    size_t n = 0;
    for (const Segment& s : releaser.released) n += s.owner == o;
    return n;
  }

  MemoryBudget budget{1 << 20};
  ChunkPool chunks{budget};
  RecordingReleaser releaser;
  OutputQueue q{chunks, releaser};
  uint8_t recv_buffer[64] = {};
  uint8_t pool_buffer[64] = {};
};

TEST_F(OutputQueueTest, SegmentsLeaveInOrderInOneSend) {
  const std::string a = "hello ", b = "world";
  ASSERT_TRUE(q.append(Segment::unowned(a.data(), a.size())));
  ASSERT_TRUE(q.append(Segment::unowned(b.data(), b.size())));
  EXPECT_EQ(q.queued_bytes(), 11u);
  EXPECT_EQ(next_send(), "hello world");
  EXPECT_TRUE(q.in_flight());
  q.on_sent(11);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.in_flight());
  EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST_F(OutputQueueTest, AnOwnerIsReleasedOnlyWhenEverythingBeforeItIsSent) {
  std::memcpy(recv_buffer, "abcdef", 6);
  ASSERT_TRUE(q.append(Segment::unowned(recv_buffer, 3)));
  ASSERT_TRUE(q.append(Segment::unowned(recv_buffer + 3, 3)));
  ASSERT_TRUE(q.append(Segment::recv_marker(7)));
  EXPECT_EQ(q.queued_bytes(), 6u);
  EXPECT_EQ(next_send(), "abcdef");
  q.on_sent(4);  // short: the marker must stay
  EXPECT_EQ(released_of(Owner::RecvBuffer), 0u);
  EXPECT_EQ(next_send(), "ef");
  q.on_sent(2);
  ASSERT_EQ(released_of(Owner::RecvBuffer), 1u);
  EXPECT_EQ(releaser.released.back().ring_id, 7);
  EXPECT_TRUE(q.empty());
}

TEST_F(OutputQueueTest, ShortSendsContinueWhereTheyStopped) {
  const std::string a = "0123456789";
  ASSERT_TRUE(q.append(Segment::from_pool(Owner::WritePool, pool_buffer, 4)));
  std::memcpy(pool_buffer, "pool", 4);
  ASSERT_TRUE(q.append(Segment::unowned(a.data(), a.size())));
  EXPECT_EQ(next_send(), "pool0123456789");
  q.on_sent(1);
  EXPECT_EQ(next_send(), "ool0123456789");
  q.on_sent(3);
  EXPECT_EQ(released_of(Owner::WritePool), 1u) << "the pool buffer is sent through";
  EXPECT_EQ(next_send(), "0123456789");
  q.on_sent(10);
  EXPECT_TRUE(q.empty());
}

TEST_F(OutputQueueTest, MarkersAloneSendNothingAndReleaseAtOnce) {
  ASSERT_TRUE(q.append(Segment::recv_marker(3)));
  EXPECT_EQ(q.prepare_send(), 0);
  EXPECT_FALSE(q.in_flight());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(released_of(Owner::RecvBuffer), 1u);
}

TEST_F(OutputQueueTest, AtMostMaxIovPiecesPerSend) {
  std::vector<std::string> pieces;
  for (int i = 0; i < OutputQueue::kMaxIov + 10; ++i) pieces.push_back(std::string(1, char('a' + i % 26)));
  for (const std::string& p : pieces) ASSERT_TRUE(q.append(Segment::unowned(p.data(), p.size())));
  EXPECT_EQ(q.prepare_send(), OutputQueue::kMaxIov);
  q.on_sent(OutputQueue::kMaxIov);
  EXPECT_EQ(q.prepare_send(), 10);
  q.on_sent(10);
  EXPECT_TRUE(q.empty());
}

TEST_F(OutputQueueTest, AFullSocketSpillsIntoChunksAndGivesEveryOwnerBack) {
  std::memcpy(recv_buffer, "frames", 6);
  std::memcpy(pool_buffer, "pong", 4);
  ASSERT_TRUE(q.append(Segment::unowned(recv_buffer, 6)));
  ASSERT_TRUE(q.append(Segment::recv_marker(5)));
  ASSERT_TRUE(q.append(Segment::from_pool(Owner::WritePool, pool_buffer, 4)));
  ASSERT_EQ(q.prepare_send(), 2);
  ASSERT_TRUE(q.on_socket_full());
  EXPECT_TRUE(q.stalled());
  EXPECT_FALSE(q.in_flight());
  EXPECT_EQ(released_of(Owner::RecvBuffer), 1u);
  EXPECT_EQ(released_of(Owner::WritePool), 1u);
  EXPECT_EQ(chunks.in_use(), 1u);
  EXPECT_EQ(budget.used(), ChunkPool::kChunkSize);
  std::memset(recv_buffer, 'x', sizeof recv_buffer);  // the bytes were copied: the buffers are free
  std::memset(pool_buffer, 'x', sizeof pool_buffer);
  // While stalled, new output is copied as it is queued, into the same chunk.
  const std::string more = "+more";
  ASSERT_TRUE(q.append(Segment::unowned(more.data(), more.size())));
  EXPECT_EQ(chunks.in_use(), 1u);
  EXPECT_EQ(q.queued_bytes(), 15u);
  EXPECT_EQ(next_send(), "framespong+more");
  q.on_sent(15);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.stalled());
  EXPECT_EQ(chunks.in_use(), 0u);
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(OutputQueueTest, OutputQueuedDuringAStalledSendIsAppendedBehindIt) {
  const std::string first = "first";
  ASSERT_TRUE(q.append(Segment::unowned(first.data(), first.size())));
  q.prepare_send();
  ASSERT_TRUE(q.on_socket_full());
  EXPECT_EQ(next_send(), "first");  // in flight again, waiting for room
  const std::string second = "second";
  ASSERT_TRUE(q.append(Segment::unowned(second.data(), second.size())));  // extends the chunk in flight
  q.on_sent(5);
  EXPECT_EQ(next_send(), "second");
  q.on_sent(6);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(chunks.in_use(), 0u);
}

TEST_F(OutputQueueTest, LargeOutputSpansChunks) {
  const std::string big(3 * ChunkPool::kChunkSize + 100, 'b');
  ASSERT_TRUE(q.append_copy(reinterpret_cast<const uint8_t*>(big.data()), big.size()));
  EXPECT_EQ(chunks.in_use(), 4u);
  EXPECT_EQ(q.queued_bytes(), big.size());
  std::string sent;
  while (!q.empty()) {
    const std::string part = next_send();
    sent += part;
    q.on_sent(part.size());
  }
  EXPECT_EQ(sent, big);
  EXPECT_EQ(chunks.in_use(), 0u);
}

TEST_F(OutputQueueTest, ARefusedBudgetFailsTheAppendAndResetReleasesEverything) {
  MemoryBudget small(ChunkPool::kChunkSize);
  ChunkPool few(small);
  RecordingReleaser r;
  r.chunks = &few;
  OutputQueue queue(few, r);
  const std::string big(2 * ChunkPool::kChunkSize, 'z');
  ASSERT_TRUE(queue.append(Segment::unowned(big.data(), big.size())));
  ASSERT_TRUE(queue.append(Segment::recv_marker(9)));
  queue.prepare_send();
  EXPECT_FALSE(queue.on_socket_full()) << "two chunks needed, one allowed";
  queue.reset();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(few.in_use(), 0u);
  EXPECT_EQ(small.used(), 0u);
  size_t markers = 0;
  for (const Segment& s : r.released) markers += s.owner == Owner::RecvBuffer;
  EXPECT_EQ(markers, 1u) << "the receive buffer is given back exactly once";
}

TEST_F(OutputQueueTest, AFailedAllocationFailsTheAppendAndGivesTheSegmentBack) {
  bool queued;
  {
    FailingAllocations failing;
    queued = q.append(Segment::from_pool(Owner::WritePool, pool_buffer, 4));  // the list must grow
  }
  EXPECT_FALSE(queued);
  EXPECT_EQ(released_of(Owner::WritePool), 1u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_bytes(), 0u);
  q.reset();
  EXPECT_EQ(releaser.released.size(), 1u);
}

TEST_F(OutputQueueTest, AFailedAllocationInASpillGivesEveryOwnerBackOnce) {
  ASSERT_TRUE(q.append(Segment::from_pool(Owner::WritePool, pool_buffer, 4)));
  ASSERT_TRUE(q.append(Segment::unowned(recv_buffer, 8)));
  ASSERT_TRUE(q.append(Segment::recv_marker(2)));
  q.prepare_send();
  bool spilled;
  {
    FailingAllocations failing;
    spilled = q.on_socket_full();
  }
  EXPECT_FALSE(spilled);
  EXPECT_TRUE(releaser.released.empty()) << "nothing is given back before the copy is complete";
  q.reset();
  EXPECT_EQ(released_of(Owner::WritePool), 1u);
  EXPECT_EQ(released_of(Owner::RecvBuffer), 1u);
  EXPECT_EQ(chunks.in_use(), 0u);
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(OutputQueueTest, AFailedAllocationWhileStalledGivesTheChunkBack) {
  ASSERT_TRUE(q.append(Segment::unowned(recv_buffer, 8)));
  q.prepare_send();
  ASSERT_TRUE(q.on_socket_full());
  const std::string big(10 * ChunkPool::kChunkSize, 'b');  // more chunk segments than the list has room for
  bool queued;
  {
    FailingAllocations failing;
    queued = q.append_copy(reinterpret_cast<const uint8_t*>(big.data()), big.size());
  }
  EXPECT_FALSE(queued);
  q.reset();
  EXPECT_EQ(chunks.in_use(), 0u);
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(OutputQueueTest, ResetGivesBackEveryOwnerOnce) {
  ASSERT_TRUE(q.append(Segment::from_pool(Owner::WritePool, pool_buffer, 4)));
  ASSERT_TRUE(q.append(Segment::unowned(recv_buffer, 8)));
  ASSERT_TRUE(q.append(Segment::recv_marker(2)));
  ASSERT_TRUE(q.append(Segment::pool_marker(Owner::GatherPool, recv_buffer)));
  q.prepare_send();
  q.reset();
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.in_flight());
  EXPECT_EQ(released_of(Owner::WritePool), 1u);
  EXPECT_EQ(released_of(Owner::RecvBuffer), 1u);
  EXPECT_EQ(released_of(Owner::GatherPool), 1u);
  q.reset();
  EXPECT_EQ(releaser.released.size(), 4u);
}

}  // namespace
}  // namespace wsring::server
