// A hashed timer wheel: one intrusive link per timed object, O(1) to set or cancel, and
// a tick visits only the slot whose time has come, so its cost does not grow with the
// number of connections. A deadline further out than one revolution simply stays in its
// slot for another round (it is compared, not fired).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsring::net {

struct TimerLink {
  TimerLink* prev = nullptr;
  TimerLink* next = nullptr;
  uint64_t deadline_ms = 0;
  bool linked() const { return prev != nullptr; }
};

class TimerWheel {
 public:
  explicit TimerWheel(uint32_t resolution_ms = 50, uint32_t slots = 2048)
      : resolution_ms_(resolution_ms ? resolution_ms : 1), heads_(slots) {
    for (TimerLink& h : heads_) h.prev = h.next = &h;
  }
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // (Re)schedules link to fire at deadline_ms (monotonic milliseconds).
  void schedule(TimerLink& link, uint64_t deadline_ms) {
    cancel(link);
    link.deadline_ms = deadline_ms;
    uint64_t tick = deadline_ms / resolution_ms_;
    if (tick < current_tick_) tick = current_tick_;  // already due: fire at the next advance
    if (!started_ && tick < first_tick_) first_tick_ = tick;
    TimerLink& head = heads_[tick % heads_.size()];
    link.prev = head.prev;
    link.next = &head;
    head.prev->next = &link;
    head.prev = &link;
    ++size_;
  }

  void cancel(TimerLink& link) {
    if (!link.linked()) return;
    link.prev->next = link.next;
    link.next->prev = link.prev;
    link.prev = link.next = nullptr;
    --size_;
  }

  // Fires every link whose deadline is <= now_ms; fire(link) may reschedule or cancel it
  // (and others). Slots between the last advance and now are all visited.
  template <typename Fire>
  void advance(uint64_t now_ms, Fire&& fire) {
    const uint64_t target = now_ms / resolution_ms_;
    if (!started_) {  // first call: start from the oldest slot anything was put in
      started_ = true;
      current_tick_ = std::min(first_tick_, target);
    }
    // Never walk more than one revolution: after a long stall every slot is visited once.
    if (target > current_tick_ + heads_.size()) current_tick_ = target - heads_.size();
    for (; current_tick_ <= target; ++current_tick_) {
      TimerLink& head = heads_[current_tick_ % heads_.size()];
      // Detach the due links into a local list first: fire() may schedule into this slot.
      TimerLink due;
      due.prev = due.next = &due;
      for (TimerLink* l = head.next; l != &head;) {
        TimerLink* next = l->next;
        if (l->deadline_ms <= now_ms) {
          l->prev->next = l->next;
          l->next->prev = l->prev;
          l->prev = due.prev;
          l->next = &due;
          due.prev->next = l;
          due.prev = l;
        }
        l = next;
      }
      while (due.next != &due) {
        TimerLink* l = due.next;
        due.next = l->next;
        l->next->prev = &due;
        l->prev = l->next = nullptr;
        --size_;
        fire(*l);
      }
    }
    current_tick_ = target;
  }

  size_t size() const { return size_; }

 private:
  uint64_t resolution_ms_;
  std::vector<TimerLink> heads_;
  uint64_t current_tick_ = 0;
  uint64_t first_tick_ = UINT64_MAX;  // before the first advance: the earliest slot used
  bool started_ = false;
  size_t size_ = 0;
};

}  // namespace wsring::net
