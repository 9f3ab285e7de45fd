#include "bench/load/shootout_driver.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace wsring::load;

namespace {

constexpr uint64_t kMs = 1'000'000;

LoadOptions small_step_up() {
  LoadOptions o;
  o.scenario = Scenario::Shootout;
  o.shootout.first_clients = 2;
  o.shootout.step_size = 2;
  o.shootout.max_clients = 6;
  o.shootout.sample_size = 2;
  o.shootout.concurrent = 1;
  o.shootout.limit_rtt_s = 0.010;
  return o;
}

// What the workers would do for broadcast `id`: sent at `sent`, every client has it at
// `delivered`, the result at `result`.
void complete(ShootoutBoard& board, uint64_t id, uint32_t clients, uint64_t sent, uint64_t delivered,
              uint64_t result) {
  BroadcastSlot& slot = board.slot(id);
  slot.send_ns = sent;
  for (uint32_t i = 0; i < clients; ++i) slot.record_receipt(delivered);
  slot.result_ns = result;
}

}  // namespace

TEST(ShootoutDriver, StepsUpUntilThePercentileCrossesTheLimit) {
  const LoadOptions o = small_step_up();
  ShootoutBoard board(shootout_capacity(o.shootout, 2));
  ShootoutDriver driver(o, board, nullptr);
  uint64_t now = 1 * kMs;
  EXPECT_FALSE(driver.poll(now, 0, 0, {0}));
  EXPECT_EQ(board.target_clients.load(), 2u);
  EXPECT_EQ(board.issued.load(), 0u);  // nothing before every client is open
  uint64_t id = 0;
  // Step 1 (2 clients): 2 broadcasts of 3 ms, one at a time.
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(driver.poll(now += kMs, 2, 0, {2}));
    ASSERT_EQ(board.issued.load(), id + 1);
    EXPECT_EQ(board.slot(id).expected, 2u);
    complete(board, id, 2, now, now + 3 * kMs, now + 2 * kMs);
    ++id;
    now += 5 * kMs;
  }
  EXPECT_FALSE(driver.poll(now, 2, 0, {2}));  // step 1 done; step 2 asks for 4 clients
  EXPECT_EQ(board.target_clients.load(), 4u);
  ASSERT_EQ(driver.steps().size(), 1u);
  EXPECT_EQ(driver.steps()[0].rtt_max_ns, 3 * kMs);
  EXPECT_EQ(driver.steps()[0].result_limit_ns, 2 * kMs);
  EXPECT_FALSE(driver.steps()[0].crossed);
  // Step 2 (4 clients): 20 ms each, above the 10 ms limit.
  for (int i = 0; i < 2; ++i) {
    driver.poll(now += kMs, 4, 0, {4});
    ASSERT_EQ(board.issued.load(), id + 1);
    complete(board, id, 4, now, now + 20 * kMs, now + kMs);
    ++id;
    now += 25 * kMs;
  }
  EXPECT_TRUE(driver.poll(now, 4, 0, {4}));
  ASSERT_EQ(driver.steps().size(), 2u);
  EXPECT_TRUE(driver.steps()[1].crossed);
  EXPECT_EQ(driver.exit_status(), 0);
  const std::string json = driver.json_member();
  EXPECT_NE(json.find("\"clients_at_limit\": 2,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"crossed_at_step\": 2,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"completed\": true"), std::string::npos) << json;
}

TEST(ShootoutDriver, AnIncompleteBroadcastIsLostAndEndsTheRun) {
  const LoadOptions o = small_step_up();
  ShootoutBoard board(shootout_capacity(o.shootout, 2));
  ShootoutDriver driver(o, board, nullptr);
  driver.poll(kMs, 0, 0, {0});
  driver.poll(2 * kMs, 2, 0, {2});
  ASSERT_EQ(board.issued.load(), 1u);
  board.slot(0).send_ns = 2 * kMs;
  board.slot(0).record_receipt(3 * kMs);  // one of the two clients; no result
  EXPECT_FALSE(driver.poll(5'000 * kMs, 2, 0, {2}));
  EXPECT_TRUE(driver.poll(2 * kMs + shootout_broadcast_timeout_ns(o.shootout), 2, 0, {2}));
  EXPECT_EQ(driver.exit_status(), 1);
  ASSERT_EQ(driver.steps().size(), 1u);
  EXPECT_EQ(driver.steps()[0].lost, 1u);
  EXPECT_NE(driver.json_member().find("\"completed\": false"), std::string::npos);
}

TEST(ShootoutDriver, AFailedConnectionEndsTheRun) {
  const LoadOptions o = small_step_up();
  ShootoutBoard board(shootout_capacity(o.shootout, 2));
  ShootoutDriver driver(o, board, nullptr);
  driver.poll(kMs, 0, 0, {0});
  EXPECT_TRUE(driver.poll(2 * kMs, 1, 1, {1}));
  EXPECT_EQ(driver.exit_status(), 1);
  EXPECT_EQ(board.issued.load(), 0u);
  EXPECT_NE(driver.summary_text().find("failed while opening step 1"), std::string::npos) << driver.summary_text();
}

TEST(ShootoutDriver, MaxClientsEndsACompletedRun) {
  LoadOptions o = small_step_up();
  o.shootout.max_clients = 2;
  o.shootout.sample_size = 1;
  ShootoutBoard board(shootout_capacity(o.shootout, 2));
  ShootoutDriver driver(o, board, nullptr);
  driver.poll(kMs, 0, 0, {0});
  driver.poll(2 * kMs, 2, 0, {0, 2});  // the first worker has no client: the second sends
  ASSERT_EQ(board.issued.load(), 1u);
  EXPECT_EQ(board.slot(0).sender_worker, 1u);
  complete(board, 0, 2, 2 * kMs, 3 * kMs, 3 * kMs);
  EXPECT_TRUE(driver.poll(4 * kMs, 2, 0, {0, 2}));
  EXPECT_EQ(driver.exit_status(), 0);
  EXPECT_NE(driver.summary_text().find("clients at limit 2"), std::string::npos) << driver.summary_text();
}
