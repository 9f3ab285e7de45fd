#include "net/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace wsring::net {
namespace {

// A timed object: the link plus a name to record firing order.
struct Timed {
  TimerLink link;  // first member, as a user of the wheel would lay it out
  int id = 0;
};

Timed& owner(TimerLink& link) { return *reinterpret_cast<Timed*>(&link); }

// Wheels in these tests start their clock at a time far from 0, like a monotonic clock.
constexpr uint64_t kStart = 1'000'000;

class TimerWheelTest : public ::testing::Test {
 protected:
  // 10 ms resolution, 16 slots: one revolution is 160 ms.
  TimerWheel wheel{10, 16};
  std::vector<int> fired;

  void SetUp() override { advance(kStart); }
  void advance(uint64_t now) {
    wheel.advance(now, [&](TimerLink& l) { fired.push_back(owner(l).id); });
  }
};

TEST_F(TimerWheelTest, FiresAtTheDeadlineNotBefore) {
  Timed a;
  a.id = 1;
  wheel.schedule(a.link, kStart + 35);
  EXPECT_TRUE(a.link.linked());
  EXPECT_EQ(wheel.size(), 1u);
  advance(kStart + 20);
  advance(kStart + 34);
  EXPECT_TRUE(fired.empty());
  advance(kStart + 35);
  EXPECT_EQ(fired, std::vector<int>{1});
  EXPECT_FALSE(a.link.linked());
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, FiresExactlyOnce) {
  Timed a;
  a.id = 7;
  wheel.schedule(a.link, kStart + 10);
  for (uint64_t t = kStart + 1; t < kStart + 1000; t += 3) advance(t);
  EXPECT_EQ(fired, std::vector<int>{7});
}

TEST_F(TimerWheelTest, FiresInDeadlineOrderAcrossSlots) {
  Timed t[5];
  const uint64_t deadlines[5] = {90, 20, 150, 40, 21};
  for (int i = 0; i < 5; ++i) {
    t[i].id = int(deadlines[i]);
    wheel.schedule(t[i].link, kStart + deadlines[i]);
  }
  EXPECT_EQ(wheel.size(), 5u);
  advance(kStart + 155);  // one advance across many slots
  EXPECT_EQ(fired, (std::vector<int>{20, 21, 40, 90, 150}));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, CancelPreventsFiring) {
  Timed a, b;
  a.id = 1;
  b.id = 2;
  wheel.schedule(a.link, kStart + 30);
  wheel.schedule(b.link, kStart + 30);
  wheel.cancel(a.link);
  EXPECT_FALSE(a.link.linked());
  EXPECT_EQ(wheel.size(), 1u);
  advance(kStart + 100);
  EXPECT_EQ(fired, std::vector<int>{2});
}

TEST_F(TimerWheelTest, CancelOfAnUnlinkedLinkIsANoOp) {
  Timed a, b;
  b.id = 2;
  wheel.schedule(b.link, kStart + 30);
  wheel.cancel(a.link);  // never scheduled
  wheel.cancel(a.link);
  EXPECT_EQ(wheel.size(), 1u);
  wheel.cancel(b.link);
  wheel.cancel(b.link);  // already cancelled
  EXPECT_EQ(wheel.size(), 0u);
  advance(kStart + 100);
  EXPECT_TRUE(fired.empty());
}

TEST_F(TimerWheelTest, RescheduleMovesTheDeadline) {
  Timed a;
  a.id = 1;
  wheel.schedule(a.link, kStart + 30);
  wheel.schedule(a.link, kStart + 80);  // later
  EXPECT_EQ(wheel.size(), 1u);
  advance(kStart + 50);
  EXPECT_TRUE(fired.empty());
  wheel.schedule(a.link, kStart + 60);  // earlier than the previous deadline
  advance(kStart + 60);
  EXPECT_EQ(fired, std::vector<int>{1});
  advance(kStart + 200);
  EXPECT_EQ(fired, std::vector<int>{1});
}

TEST_F(TimerWheelTest, DeadlineBeyondOneRevolutionWaitsItsTurn) {
  Timed far, near;
  far.id = 2;
  near.id = 1;
  wheel.schedule(far.link, kStart + 500);  // > 3 revolutions of 160 ms, same slot as +20
  wheel.schedule(near.link, kStart + 20);
  for (uint64_t t = kStart + 5; t < kStart + 500; t += 5) advance(t);
  EXPECT_EQ(fired, std::vector<int>{1});
  EXPECT_TRUE(far.link.linked());
  advance(kStart + 500);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
}

TEST_F(TimerWheelTest, DeadlineInThePastFiresAtTheNextAdvance) {
  advance(kStart + 100);
  Timed a;
  a.id = 1;
  wheel.schedule(a.link, kStart + 10);  // already due
  EXPECT_TRUE(fired.empty());
  advance(kStart + 100);  // same time: still fires
  EXPECT_EQ(fired, std::vector<int>{1});
}

TEST_F(TimerWheelTest, LongStallFiresEverythingDueOnce) {
  Timed t[20];
  for (int i = 0; i < 20; ++i) {
    t[i].id = i;
    wheel.schedule(t[i].link, kStart + 10 + uint64_t(i) * 37);  // spread over ~5 revolutions
  }
  Timed later;
  later.id = 99;
  wheel.schedule(later.link, kStart + 100'000);
  advance(kStart + 50'000);  // the process was stopped for a long while
  ASSERT_EQ(fired.size(), 20u);
  std::vector<int> sorted = fired;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sorted[size_t(i)], i);
  EXPECT_TRUE(later.link.linked());
  EXPECT_EQ(wheel.size(), 1u);
  advance(kStart + 100'000);
  EXPECT_EQ(fired.back(), 99);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, RescheduleFromInsideFire) {
  Timed a;
  a.id = 1;
  wheel.schedule(a.link, kStart + 10);
  int fires = 0;
  uint64_t now = kStart;
  for (int step = 1; step <= 50; ++step) {
    now = kStart + uint64_t(step) * 10;
    wheel.advance(now, [&](TimerLink& l) {
      ++fires;
      // A periodic timer: every 30 ms, rescheduled from its own callback.
      if (fires < 5) wheel.schedule(l, now + 30);
    });
  }
  EXPECT_EQ(fires, 5);
  EXPECT_FALSE(a.link.linked());
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, FireMayCancelAnotherDueLink) {
  Timed a, b;
  a.id = 1;
  b.id = 2;
  wheel.schedule(a.link, kStart + 20);
  wheel.schedule(b.link, kStart + 20);  // same slot, after a
  wheel.advance(kStart + 20, [&](TimerLink& l) {
    fired.push_back(owner(l).id);
    if (owner(l).id == 1) wheel.cancel(b.link);
  });
  EXPECT_EQ(fired, std::vector<int>{1});
  EXPECT_EQ(wheel.size(), 0u);
  advance(kStart + 500);
  EXPECT_EQ(fired, std::vector<int>{1});
}

TEST_F(TimerWheelTest, RescheduleIntoTheSlotBeingFiredWaitsForItsDeadline) {
  Timed a;
  a.id = 1;
  wheel.schedule(a.link, kStart + 20);
  int fires = 0;
  // Rescheduled one revolution later: lands in the very slot being walked.
  wheel.advance(kStart + 20, [&](TimerLink& l) {
    ++fires;
    wheel.schedule(l, kStart + 20 + 160);
  });
  EXPECT_EQ(fires, 1);
  advance(kStart + 100);
  EXPECT_EQ(fires, 1);
  EXPECT_TRUE(fired.empty());
  advance(kStart + 180);
  EXPECT_EQ(fired, std::vector<int>{1});
}

TEST_F(TimerWheelTest, SizeCountsLinkedTimers) {
  Timed t[10];
  for (int i = 0; i < 10; ++i) wheel.schedule(t[i].link, kStart + 100 + uint64_t(i));
  EXPECT_EQ(wheel.size(), 10u);
  wheel.schedule(t[0].link, kStart + 300);  // a reschedule does not add
  EXPECT_EQ(wheel.size(), 10u);
  wheel.cancel(t[1].link);
  EXPECT_EQ(wheel.size(), 9u);
  advance(kStart + 105);
  EXPECT_EQ(wheel.size(), 5u);  // 2..5 fired; 0 and 6..9 wait
  advance(kStart + 300);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, ZeroResolutionIsTreatedAsOne) {
  TimerWheel wheel(0, 8);
  TimerLink link;
  int fires = 0;
  wheel.advance(kStart, [&](TimerLink&) { ++fires; });
  wheel.schedule(link, kStart + 3);
  wheel.advance(kStart + 2, [&](TimerLink&) { ++fires; });
  EXPECT_EQ(fires, 0);
  wheel.advance(kStart + 3, [&](TimerLink&) { ++fires; });
  EXPECT_EQ(fires, 1);
}

// Regression: advance() fires every link whose deadline is <= now, also on its first call,
// which once only set the wheel's clock and walked that one slot, skipping a link scheduled
// before it in another slot until the wheel came round a revolution later.
TEST(TimerWheel, LinkScheduledBeforeTheFirstAdvanceFiresWhenDue) {
  TimerWheel wheel(10, 16);
  TimerLink link;
  int fires = 0;
  wheel.schedule(link, kStart + 30);
  wheel.advance(kStart + 100, [&](TimerLink&) { ++fires; });
  EXPECT_EQ(fires, 1);
}

}  // namespace
}  // namespace wsring::net
