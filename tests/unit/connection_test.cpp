#include "server/connection.hpp"

#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <vector>

namespace wsring::server {
namespace {

using S = ConnState;
using E = ConnEvent;

constexpr S kStates[] = {S::Free, S::Handshaking, S::Responding, S::Open, S::CloseSent,
                         S::PeerDone, S::WriteShut, S::ClosingFd};
constexpr E kEvents[] = {E::Accepted, E::Upgraded, E::FinalHttp, E::CloseQueued, E::PeerClosed,
                         E::PeerEnded, E::Flushed, E::Abort, E::Closed};

// The table of server/README.md, written out independently of next_state().
const std::vector<std::tuple<S, E, S>> kLegal = {
    {S::Free, E::Accepted, S::Handshaking},
    {S::Handshaking, E::Upgraded, S::Open},
    {S::Handshaking, E::FinalHttp, S::Responding},
    {S::Handshaking, E::PeerEnded, S::PeerDone},
    {S::Handshaking, E::Abort, S::ClosingFd},
    {S::Responding, E::PeerEnded, S::PeerDone},
    {S::Responding, E::Flushed, S::WriteShut},
    {S::Responding, E::Abort, S::ClosingFd},
    {S::Open, E::CloseQueued, S::CloseSent},
    {S::Open, E::PeerClosed, S::PeerDone},
    {S::Open, E::PeerEnded, S::PeerDone},
    {S::Open, E::Abort, S::ClosingFd},
    {S::CloseSent, E::PeerClosed, S::PeerDone},
    {S::CloseSent, E::PeerEnded, S::PeerDone},
    {S::CloseSent, E::Flushed, S::WriteShut},
    {S::CloseSent, E::Abort, S::ClosingFd},
    {S::PeerDone, E::Flushed, S::ClosingFd},
    {S::PeerDone, E::Abort, S::ClosingFd},
    {S::WriteShut, E::PeerClosed, S::ClosingFd},
    {S::WriteShut, E::PeerEnded, S::ClosingFd},
    {S::WriteShut, E::Abort, S::ClosingFd},
    {S::ClosingFd, E::Abort, S::ClosingFd},
    {S::ClosingFd, E::Closed, S::Free},
};

TEST(ConnectionStateTest, EveryLegalTransitionLeadsWhereTheTableSays) {
  for (const auto& [from, event, to] : kLegal) {
    SCOPED_TRACE(std::string(state_name(from)) + " + " + event_name(event));
    const auto next = next_state(from, event);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, to) << state_name(*next);
  }
}

TEST(ConnectionStateTest, EveryOtherPairIsIllegal) {
  std::set<std::pair<S, E>> legal;
  for (const auto& [from, event, to] : kLegal) legal.emplace(from, event);
  int illegal = 0;
  for (S s : kStates) {
    for (E e : kEvents) {
      if (legal.count({s, e})) continue;
      EXPECT_FALSE(next_state(s, e).has_value()) << state_name(s) << " + " << event_name(e);
      ++illegal;
    }
  }
  EXPECT_EQ(illegal, int(std::size(kStates) * std::size(kEvents) - kLegal.size()));
}

TEST(ConnectionStateTest, EveryStateIsReachableAndEveryPathEndsFree) {
  std::set<S> seen{S::Free};
  std::vector<S> todo{S::Free};
  while (!todo.empty()) {
    const S s = todo.back();
    todo.pop_back();
    for (E e : kEvents)
      if (auto n = next_state(s, e); n && seen.insert(*n).second) todo.push_back(*n);
  }
  EXPECT_EQ(seen.size(), std::size(kStates));
  // From every state but Free an abort and the reactor's report lead back to Free.
  for (S s : kStates) {
    if (s == S::Free) continue;
    const auto closing = next_state(s, E::Abort);
    ASSERT_TRUE(closing);
    EXPECT_EQ(next_state(*closing, E::Closed), S::Free) << state_name(s);
  }
}

TEST(ConnectionStateTest, TransitionMovesOnlyAlongTheTable) {
  Connection c;
  c.transition(E::Accepted);
  EXPECT_EQ(c.state, S::Handshaking);
  c.transition(E::Upgraded);
  EXPECT_EQ(c.state, S::Open);
  c.transition(E::CloseQueued);
  EXPECT_EQ(c.state, S::CloseSent);
  EXPECT_FALSE(c.reading_done());
  c.transition(E::PeerClosed);
  EXPECT_EQ(c.state, S::PeerDone);
  EXPECT_TRUE(c.reading_done());
  c.transition(E::Flushed);
  EXPECT_EQ(c.state, S::ClosingFd);
  c.transition(E::Closed);
  EXPECT_EQ(c.state, S::Free);
}

#ifdef NDEBUG
TEST(ConnectionStateTest, AnIllegalMoveLeavesTheStateInReleaseBuilds) {
  Connection c;
  c.transition(E::Upgraded);
  EXPECT_EQ(c.state, S::Free);
}
#else
TEST(ConnectionStateDeathTest, AnIllegalMoveIsAssertedInDebugBuilds) {
  Connection c;
  EXPECT_DEATH(c.transition(E::Upgraded), "illegal connection state transition");
}
#endif

TEST(ConnectionStateTest, NamesAreDistinct) {
  std::set<std::string> names;
  for (S s : kStates) names.insert(state_name(s));
  for (E e : kEvents) names.insert(event_name(e));
  EXPECT_EQ(names.size(), std::size(kStates) + std::size(kEvents));
}

}  // namespace
}  // namespace wsring::server
