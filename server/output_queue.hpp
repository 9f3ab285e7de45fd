// One connection's output, strictly ordered: the segments waiting to be sent, the send in flight,
// and the spill for a peer whose socket is full.
//
// Every segment records, when it is queued, who owns its bytes (Owner): a receive buffer of the
// reactor, a write-pool buffer, a gather buffer, a spill chunk, or nobody (static bytes). The
// owner is given back through a SegmentReleaser once every byte up to and including that segment
// has been sent. A receive buffer that several segments point into is owned by a zero-size
// segment queued after the last of them (an owner marker): segments leave in order, so when the
// marker is reached nothing points into the buffer any more.
//
// When a send finds the peer's socket full, spill() copies everything unsent into chunks charged
// to the memory budget and gives every other owner back at once: a peer that stops reading pins
// no receive buffer. Until the queue empties, new output is copied into chunks as it is queued.
// Shared frames are the exception: already charged once, they stay referenced, never copied.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "server/memory_budget.hpp"

namespace wsring::server {

// Shared: a frame many receivers share (shared_frame.hpp): one reference per segment. Like a
// chunk, it is kept (not copied) when the queue spills: it is charged to the budget already.
enum class Owner : uint8_t { None, RecvBuffer, WritePool, GatherPool, Chunk, Shared };

struct Segment {
  const uint8_t* data = nullptr;
  uint32_t size = 0;
  Owner owner = Owner::None;
  uint16_t ring_id = 0;       // Owner::RecvBuffer
  uint8_t* buffer = nullptr;  // WritePool, GatherPool, Chunk: the buffer to give back; Shared: the SharedFrame

  static Segment unowned(const void* data, size_t size) {
    return Segment{static_cast<const uint8_t*>(data), uint32_t(size), Owner::None, 0, nullptr};
  }
  static Segment from_pool(Owner pool, uint8_t* buffer, size_t size) {
    return Segment{buffer, uint32_t(size), pool, 0, buffer};
  }
  static Segment recv_marker(uint16_t ring_id) { return Segment{nullptr, 0, Owner::RecvBuffer, ring_id, nullptr}; }
  static Segment pool_marker(Owner pool, uint8_t* buffer) { return Segment{nullptr, 0, pool, 0, buffer}; }
};

// Gives an owner back (the engine: to the reactor's ring, a pool, the chunk pool).
class SegmentReleaser {
 public:
  virtual void release(const Segment& s) = 0;

 protected:
  ~SegmentReleaser() = default;
};

class OutputQueue {
 public:
  static constexpr int kMaxIov = 64;

  // prepare_send never allocates: the iovec array is sized once here.
  OutputQueue(ChunkPool& chunks, SegmentReleaser& releaser) : chunks_(&chunks), releaser_(&releaser) {
    iov_.reserve(kMaxIov);
  }

  // Queues a segment (a zero-size one is an owner marker). While the queue is stalled its bytes
  // are copied into chunks and its owner is released at once. False when the memory for that
  // copy, or for the segment list, is refused (by the budget or the allocator): the segment has
  // been released, and the caller fails the connection. No method throws std::bad_alloc.
  // Inline: once per message.
  bool append(const Segment& s) {
    if (stalled_ || segments_.size() == segments_.capacity()) [[unlikely]] return append_slow(s);
    segments_.push_back(s);
    queued_bytes_ += s.size;
    return true;
  }
  // Queues a copy of bytes, in chunks. False when the memory is refused.
  bool append_copy(const uint8_t* data, size_t size);
  // Writable room at the end of the last chunk, a new chunk queued when there is none (for a
  // producer that writes in place, like a TLS record layer); empty when memory is refused.
  // commit_room(n) queues n bytes of it.
  std::span<uint8_t> chunk_room();
  void commit_room(size_t size);

  bool empty() const { return head_ == segments_.size(); }
  bool in_flight() const { return in_flight_; }
  bool stalled() const { return stalled_; }
  uint64_t queued_bytes() const { return queued_bytes_; }

  // Builds the next send (up to kMaxIov pieces) and marks it in flight. Returns the piece count,
  // 0 when only owner markers were left (they have been released: the queue is empty now).
  int prepare_send();
  const iovec* iov() const { return iov_.data(); }

  // A send completed with `sent` bytes (short sends continue where they stopped).
  void on_sent(size_t sent);
  // The send found the socket full and sent nothing: copy everything unsent into chunks and give
  // the other owners back. False when the memory is refused (the caller fails the connection).
  bool on_socket_full();
  // Gives every owner back and empties the queue (the connection is closing).
  void reset();

  // How fast the peer drains a stalled queue (for --send-timeout and --min-send-rate): bytes
  // sent since the window started. Kept by the engine.
  struct Progress {
    uint64_t window_start_ms = 0;  // 0: the queue has not stalled
    uint64_t window_sent = 0;
  };
  Progress progress;

 private:
  bool append_slow(const Segment& s);
  bool copy_into_chunks(const uint8_t* data, size_t size, std::vector<Segment>& into);
  void clear_when_empty();

  ChunkPool* chunks_;
  SegmentReleaser* releaser_;
  std::vector<Segment> segments_;
  std::vector<Segment> scratch_;  // spill's rebuilt list, kept for its capacity
  size_t head_ = 0;               // first unsent segment
  std::vector<iovec> iov_;        // the send in flight
  uint64_t queued_bytes_ = 0;     // unsent bytes, in flight included
  bool in_flight_ = false;
  bool stalled_ = false;
};

}  // namespace wsring::server
