// --reconnect: a connection closed by the server or by a failure (not by the end of the run) is
// opened again after a back-off, so that a rolling restart or a failover can be measured.
// The back-off after the n-th consecutive attempt that did not reach an upgrade (n = 0 for the
// first reconnect of a connection that was open) is drawn uniformly from [d/2, d] with
// d = min(50 ms * 2^n, 5 s): quick after a single close, no hammering of a server that is down,
// and connections closed together do not all come back in the same millisecond.
#pragma once

#include <algorithm>
#include <cstdint>

namespace wsring::load {

constexpr uint64_t kReconnectFirstNs = 50'000'000;    // 50 ms
constexpr uint64_t kReconnectMaxNs = 5'000'000'000;  // 5 s

inline uint64_t reconnect_ceiling_ns(uint32_t failures) {
  return failures >= 7 ? kReconnectMaxNs : std::min(kReconnectMaxNs, kReconnectFirstNs << failures);
}

// The wait before the next attempt, from a 64-bit random number.
inline uint64_t reconnect_delay_ns(uint32_t failures, uint64_t random) {
  const uint64_t ceiling = reconnect_ceiling_ns(failures);
  return ceiling / 2 + random % (ceiling / 2 + 1);
}

}  // namespace wsring::load
