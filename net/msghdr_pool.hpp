// The msghdr slots of io_uring sendmsg requests: a slot must outlive the submission, so each
// send borrows one and gives it back at its completion. Slots never move (a deque), and the free
// list always has room for every slot (reserved before a slot is made), so giving one back never
// allocates inside the event loop.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <new>
#include <vector>

#include "net/reactor_state.hpp"

namespace wsring::net {

class MsghdrPool {
 public:
  // A free slot's index, or kNoMsghdr when memory has run out.
  uint32_t take() {
    if (free_.empty()) {
      try {
        free_.reserve(slots_.size() + 1);
        slots_.emplace_back();
      } catch (const std::bad_alloc&) {
        return kNoMsghdr;
      }
      free_.push_back(uint32_t(slots_.size() - 1));
    }
    const uint32_t index = free_.back();
    free_.pop_back();
    return index;
  }
  void give_back(uint32_t index) { free_.push_back(index); }
  msghdr& operator[](uint32_t index) { return slots_[index]; }

 private:
  std::deque<msghdr> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace wsring::net
