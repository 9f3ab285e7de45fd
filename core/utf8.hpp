// Incremental, fail-fast UTF-8 validation (RFC 3629; Unicode Table 3-7 well-formed sequences),
// as RFC 6455 §8.1 requires for text messages and close reasons.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsring::core {

class Utf8Validator {  // incremental, fail-fast
 public:
  // Returns false as soon as the bytes seen so far cannot be the prefix of valid UTF-8
  // (at the first byte where that becomes certain). State carries across calls; once it has
  // failed, every later call returns false until reset().
  bool feed(const uint8_t* data, size_t size);
  // true when no code point is left unfinished (message may end here). false after a failure.
  bool at_boundary() const { return state_ == kAccept; }
  bool failed() const { return state_ == kReject; }
  // After a failure: index of the offending byte, counted over all bytes fed since reset().
  uint64_t failure_offset() const { return failure_offset_; }
  void reset() {
    state_ = kAccept;
    bytes_fed_ = 0;
    failure_offset_ = 0;
  }

  // DFA states are stored as bit shifts (multiples of 6) into a per-byte transition word.
  static constexpr uint8_t kAccept = 0;
  static constexpr uint8_t kReject = 6;

  // The whole validation state is this one byte: a holder that must stay small (one per
  // connection) keeps state() and resumes with from_state(); only the diagnostics are lost.
  uint8_t state() const { return state_; }
  static Utf8Validator from_state(uint8_t state) {
    Utf8Validator v;
    v.state_ = state;
    return v;
  }

 private:
  uint8_t state_ = kAccept;
  uint64_t bytes_fed_ = 0;  // bytes accepted by earlier feed() calls
  uint64_t failure_offset_ = 0;
};

bool is_valid_utf8(const uint8_t* data, size_t size);  // whole-buffer convenience

}  // namespace wsring::core
