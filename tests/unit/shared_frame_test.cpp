#include "server/shared_frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "server/output_queue.hpp"

namespace wsring::server {
namespace {

TEST(SharedFrame, FramedOnceWithKey) {
  MemoryBudget budget(1 << 20);
  SharedFramePool pool(budget);
  SharedFrame* f = pool.make(core::Opcode::Text, {"MSG ", "news", " ", "hi"}, "news");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->size(), 2u + 11u);
  EXPECT_EQ(f->data()[0], 0x81);  // FIN, text
  EXPECT_EQ(f->data()[1], 11);    // unmasked, length 11
  EXPECT_EQ(f->payload(), "MSG news hi");
  EXPECT_EQ(f->key(), "news");
  EXPECT_EQ(pool.in_use(), 1);
  EXPECT_GT(budget.used(), 0u);
  f->release();
  EXPECT_EQ(pool.in_use(), 0);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(SharedFrame, ChargedOnceReturnedOnTheLastReference) {
  MemoryBudget budget(1 << 20);
  SharedFramePool pool(budget);
  SharedFrame* f = pool.make(core::Opcode::Binary, {std::string(200, 'x')});
  ASSERT_NE(f, nullptr);
  const uint64_t charged = budget.used();
  f->add_refs(5000);  // 5,000 receivers: no more memory
  EXPECT_EQ(budget.used(), charged);
  for (int i = 0; i < 5000; ++i) f->release();
  EXPECT_EQ(pool.in_use(), 1);
  f->release();  // the maker's
  EXPECT_EQ(pool.in_use(), 0);
  EXPECT_EQ(budget.used(), 0u);
  // Reused: the same record comes back.
  SharedFrame* again = pool.make(core::Opcode::Binary, {"y"});
  EXPECT_EQ(again, f);
  again->release();
}

TEST(SharedFrame, LargeFramesAndTheBudget) {
  MemoryBudget budget(64 * 1024);
  SharedFramePool pool(budget);
  SharedFrame* big = pool.make(core::Opcode::Binary, {std::string(40000, 'z')});
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->size(), 4u + 40000u);
  EXPECT_EQ(pool.make(core::Opcode::Binary, {std::string(40000, 'z')}), nullptr);  // over the budget
  big->release();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(pool.make(core::Opcode::Text, {"x"}, std::string(2000, 'k')), nullptr);  // key too long
}

TEST(SharedFrame, ReleasedOnOtherThreads) {
  MemoryBudget budget(64 << 20);
  SharedFramePool pool(budget);
  std::vector<SharedFrame*> frames;
  for (int i = 0; i < 1000; ++i) {
    SharedFrame* f = pool.make(core::Opcode::Binary, {"payload"});
    ASSERT_NE(f, nullptr);
    f->add_refs(3);  // one per thread below
    frames.push_back(f);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (SharedFrame* f : frames) f->release();
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(pool.in_use(), 1000);
  for (SharedFrame* f : frames) f->release();
  EXPECT_EQ(pool.in_use(), 0);
  EXPECT_EQ(budget.used(), 0u);
}

class FrameReleaser final : public SegmentReleaser {
 public:
  void release(const Segment& s) override {
    if (s.owner == Owner::Shared) reinterpret_cast<SharedFrame*>(s.buffer)->release();
    else if (s.owner == Owner::Chunk) chunks->release(s.buffer);
  }
  ChunkPool* chunks = nullptr;
};

// A shared segment is kept by reference when the queue spills (no copy per receiver).
TEST(SharedFrame, OutputQueueKeepsItWhenSpilling) {
  MemoryBudget budget(1 << 20);
  SharedFramePool pool(budget);
  ChunkPool chunks(budget);
  FrameReleaser releaser;
  releaser.chunks = &chunks;
  OutputQueue q(chunks, releaser);
  SharedFrame* f = pool.make(core::Opcode::Binary, {std::string(100, 'a')});
  f->add_refs(2);
  const Segment s{f->data(), f->size(), Owner::Shared, 0, reinterpret_cast<uint8_t*>(f)};
  ASSERT_TRUE(q.append(s));
  ASSERT_GT(q.prepare_send(), 0);
  ASSERT_TRUE(q.on_socket_full());
  EXPECT_EQ(chunks.in_use(), 0u);  // not copied
  ASSERT_TRUE(q.append(s));         // stalled: still by reference
  EXPECT_EQ(chunks.in_use(), 0u);
  EXPECT_EQ(f->refs(), 3u);
  ASSERT_EQ(q.prepare_send(), 2);
  EXPECT_EQ(q.iov()[0].iov_base, f->data());
  q.on_sent(2 * f->size());
  EXPECT_EQ(f->refs(), 1u);
  f->release();
  EXPECT_EQ(pool.in_use(), 0);
}

TEST(SharedFrameReleases, GivesFramesBackOnlyWhenFlushedOrFull) {
  MemoryBudget budget(1 << 22);
  SharedFramePool pool(budget);
  std::vector<SharedFrame*> frames;
  for (int i = 0; i < 20; ++i) {
    SharedFrame* f = pool.make(core::Opcode::Binary, {"x"});
    ASSERT_NE(f, nullptr);
    frames.push_back(f);
  }
  SharedFrameReleases releases;
  // Three receivers' references of the first frame, dropped through the batch: the frame stays
  // until the flush, then goes with its maker's reference.
  frames[0]->add_refs(3);
  for (int i = 0; i < 3; ++i) releases.add(frames[0]);
  frames[0]->release();  // the maker's
  EXPECT_EQ(frames[0]->refs(), 3u);
  EXPECT_EQ(pool.in_use(), 20);
  releases.flush();
  EXPECT_EQ(pool.in_use(), 19);
  // More distinct frames than the batch holds: the full batch is flushed to make room, so no
  // reference is ever lost.
  for (int i = 1; i < 20; ++i) releases.add(frames[i]);
  EXPECT_LT(pool.in_use(), 19);
  EXPECT_GT(pool.in_use(), 0);
  releases.flush();
  EXPECT_EQ(pool.in_use(), 0);
  EXPECT_EQ(budget.used(), 0u);
  releases.flush();  // empty: nothing happens
}

}  // namespace
}  // namespace wsring::server
