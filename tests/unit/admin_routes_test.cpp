#include "server/admin_routes.hpp"

#include <gtest/gtest.h>

namespace wsring::server {
namespace {

TEST(AdminRoutesTest, HealthzFollowsTheOldestHeartbeat) {
  SharedState shared(1 << 20);
  StatsBoard board(2, 1000);
  EXPECT_EQ(answer_admin("/healthz", board, shared, "epoll", 1500).status, 200);
  board.publish(0, ServerStats{}, ThreadGauges{}, 2500);
  // Thread 1 last turned its loop at 1000: more than a second ago at 2000.
  const AdminResponse stalled = answer_admin("/healthz", board, shared, "epoll", 2000);
  EXPECT_EQ(stalled.status, 503);
  EXPECT_NE(stalled.body.find("reactor thread"), std::string::npos);
  board.publish(1, ServerStats{}, ThreadGauges{}, 2600);
  EXPECT_EQ(answer_admin("/healthz", board, shared, "epoll", 3000).status, 200);
}

TEST(AdminRoutesTest, ReadyzIs503WhileDraining) {
  SharedState shared(1 << 20);
  StatsBoard board(1, 0);
  EXPECT_EQ(answer_admin("/readyz", board, shared, "epoll", 0).status, 200);
  shared.draining = true;
  const AdminResponse r = answer_admin("/readyz", board, shared, "epoll", 0);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "draining\n");
}

TEST(AdminRoutesTest, MetricsShowTheBoardsSums) {
  SharedState shared(1 << 20);
  StatsBoard board(2, 0);
  ServerStats a;
  a.upgraded = 3;
  board.publish(0, a, ThreadGauges{}, 0);
  board.publish(1, a, ThreadGauges{}, 0);
  const AdminResponse r = answer_admin("/metrics", board, shared, "epoll", 0);
  EXPECT_EQ(r.status, 200);
  EXPECT_STREQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("wsring_upgrades_total 6\n"), std::string::npos);
  EXPECT_NE(r.body.find("backend=\"epoll\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("wsring_output_memory_limit_bytes 1048576\n"), std::string::npos);
}

TEST(AdminRoutesTest, OtherPathsAre404) {
  SharedState shared(1 << 20);
  StatsBoard board(1, 0);
  EXPECT_EQ(answer_admin("/", board, shared, "epoll", 0).status, 404);
  EXPECT_EQ(answer_admin("/metrics/", board, shared, "epoll", 0).status, 404);
}

}  // namespace
}  // namespace wsring::server
