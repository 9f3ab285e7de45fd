#include "bench/load/connection_state.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>

using namespace wsring::load;
using S = ConnState;
using E = ConnEvent;

namespace {

// The legal moves, written out independently of next_state(): every pair not listed is illegal.
const std::map<std::pair<S, E>, S>& legal_moves() {
  static const std::map<std::pair<S, E>, S> moves = {
      {{S::Idle, E::Connect}, S::Connecting},
      {{S::Connecting, E::Connected}, S::Handshaking},
      {{S::Connecting, E::ConnectedTls}, S::TlsHandshaking},
      {{S::TlsHandshaking, E::Secured}, S::Handshaking},
      {{S::TlsHandshaking, E::Drop}, S::Dying},
      {{S::Connecting, E::Drop}, S::Dying},
      {{S::Handshaking, E::Upgraded}, S::Open},
      {{S::Handshaking, E::Drop}, S::Dying},
      {{S::Open, E::CloseQueued}, S::CloseSent},
      {{S::Open, E::ServerClose}, S::PeerClosed},
      {{S::Open, E::Violation}, S::Failing},
      {{S::Open, E::Drop}, S::Dying},
      {{S::CloseSent, E::ServerClose}, S::Closed},
      {{S::CloseSent, E::Drop}, S::Dying},
      {{S::Closed, E::Drop}, S::Dying},
      {{S::PeerClosed, E::Drop}, S::Dying},
      {{S::Failing, E::Drop}, S::Dying},
      {{S::Dying, E::Released}, S::Idle},
  };
  return moves;
}

std::string name(S s, E e) { return std::string(to_string(s)) + " --" + to_string(e) + "->"; }

}  // namespace

TEST(LoadConnectionState, EveryLegalMoveLeadsWhereTheTableSays) {
  for (const auto& [from, to] : legal_moves()) {
    const std::optional<S> next = next_state(from.first, from.second);
    ASSERT_TRUE(next.has_value()) << name(from.first, from.second);
    EXPECT_EQ(*next, to) << name(from.first, from.second) << " " << to_string(*next);
  }
}

TEST(LoadConnectionState, EveryOtherMoveIsIllegal) {
  int illegal = 0;
  for (int s = 0; s < kConnStateCount; ++s) {
    for (int e = 0; e < kConnEventCount; ++e) {
      const S state = S(s);
      const E event = E(e);
      if (legal_moves().count({state, event})) continue;
      EXPECT_FALSE(next_state(state, event).has_value()) << name(state, event) << " should be illegal";
      ++illegal;
    }
  }
  EXPECT_EQ(illegal, kConnStateCount * kConnEventCount - int(legal_moves().size()));
}

TEST(LoadConnectionState, EveryStateIsReachableAndCanGetBackToIdle) {
  // Forward from Idle.
  std::set<S> reached{S::Idle};
  std::deque<S> queue{S::Idle};
  while (!queue.empty()) {
    const S s = queue.front();
    queue.pop_front();
    for (int e = 0; e < kConnEventCount; ++e)
      if (const std::optional<S> next = next_state(s, E(e)); next && reached.insert(*next).second) queue.push_back(*next);
  }
  EXPECT_EQ(int(reached.size()), kConnStateCount);
  // Every state can end: Drop (or Released, or Connect for Idle) always leads on, and from
  // every live state Drop reaches Dying, whose only way out is Idle.
  for (int s = 0; s < kConnStateCount; ++s) {
    const S state = S(s);
    if (state == S::Idle || state == S::Dying) continue;
    EXPECT_EQ(next_state(state, E::Drop), S::Dying) << to_string(state) << " cannot be dropped";
  }
  EXPECT_EQ(next_state(S::Dying, E::Released), S::Idle);
}

TEST(LoadConnectionState, PredicatesMatchTheStates) {
  for (int s = 0; s < kConnStateCount; ++s) {
    const S state = S(s);
    const bool opening_state = state == S::Connecting || state == S::TlsHandshaking || state == S::Handshaking;
    const bool upgraded_state = state != S::Idle && !opening_state && state != S::Dying;
    EXPECT_EQ(is_upgraded(state), upgraded_state) << to_string(state);
    EXPECT_EQ(is_opening(state), opening_state) << to_string(state);
    EXPECT_EQ(reads_frames(state), state == S::Open || state == S::CloseSent) << to_string(state);
    if (awaits_eof(state)) {
      EXPECT_TRUE(is_upgraded(state)) << to_string(state);
    }
    EXPECT_STRNE(to_string(state), "?");
  }
  for (int e = 0; e < kConnEventCount; ++e) EXPECT_STRNE(to_string(E(e)), "?");
}
