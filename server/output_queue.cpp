#include "server/output_queue.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace wsring::server {

namespace {

// Room left in a chunk segment's chunk: each chunk belongs to exactly one segment, which always
// ends at the chunk's fill level, so appending there never moves bytes a send points at.
size_t room_in_chunk(const Segment& s) {
  if (s.owner != Owner::Chunk) return 0;
  return size_t(s.buffer + ChunkPool::kChunkSize - (s.data + s.size));
}

}  // namespace

bool OutputQueue::append_slow(const Segment& s) {
  if (!stalled_ || s.owner == Owner::Shared) {
    try {
      segments_.push_back(s);
    } catch (const std::bad_alloc&) {  // an address-space limit: refused like the budget
      releaser_->release(s);
      return false;
    }
    queued_bytes_ += s.size;
    return true;
  }
  const bool ok = copy_into_chunks(s.data, s.size, segments_);
  if (ok) queued_bytes_ += s.size;
  releaser_->release(s);
  return ok;
}

bool OutputQueue::append_copy(const uint8_t* data, size_t size) {
  if (!copy_into_chunks(data, size, segments_)) return false;
  queued_bytes_ += size;
  return true;
}

bool OutputQueue::copy_into_chunks(const uint8_t* data, size_t size, std::vector<Segment>& into) {
  while (size > 0) {
    // The tail may take more only if it is not already sent (into[head_-1] is gone).
    const bool tail_open = !into.empty() && (&into != &segments_ || into.size() > head_);
    size_t room = tail_open ? room_in_chunk(into.back()) : 0;
    if (room == 0) {
      uint8_t* chunk = chunks_->acquire();
      if (!chunk) return false;
      try {
        into.push_back(Segment{chunk, 0, Owner::Chunk, 0, chunk});
      } catch (const std::bad_alloc&) {
        chunks_->release(chunk);
        return false;
      }
      room = ChunkPool::kChunkSize;
    }
    Segment& tail = into.back();
    const size_t take = std::min(room, size);
    std::memcpy(const_cast<uint8_t*>(tail.data) + tail.size, data, take);
    tail.size += uint32_t(take);
    data += take;
    size -= take;
  }
  return true;
}

std::span<uint8_t> OutputQueue::chunk_room() {
  size_t room = segments_.size() > head_ ? room_in_chunk(segments_.back()) : 0;
  if (room == 0) {
    uint8_t* chunk = chunks_->acquire();
    if (!chunk) return {};
    try {
      segments_.push_back(Segment{chunk, 0, Owner::Chunk, 0, chunk});
    } catch (const std::bad_alloc&) {
      chunks_->release(chunk);
      return {};
    }
    room = ChunkPool::kChunkSize;
  }
  Segment& tail = segments_.back();
  return {const_cast<uint8_t*>(tail.data) + tail.size, room};
}

void OutputQueue::commit_room(size_t size) {
  segments_.back().size += uint32_t(size);
  queued_bytes_ += size;
}

int OutputQueue::prepare_send() {
  const size_t end = std::min(segments_.size(), head_ + size_t(kMaxIov));
  if (iov_.size() < end - head_) iov_.resize(end - head_);  // grows to the largest send seen
  int n = 0;
  for (size_t i = head_; i < end; ++i) {
    const Segment& s = segments_[i];
    if (s.size) iov_[size_t(n++)] = iovec{const_cast<uint8_t*>(s.data), s.size};
  }
  if (n == 0) {  // markers only: nothing to send, their owners are free
    on_sent(0);
    return 0;
  }
  in_flight_ = true;
  return n;
}

void OutputQueue::on_sent(size_t sent) {
  in_flight_ = false;
  queued_bytes_ -= std::min<uint64_t>(sent, queued_bytes_);
  while (head_ < segments_.size()) {
    Segment& s = segments_[head_];
    if (sent < s.size) {  // a short send: continue where it stopped
      s.data += sent;
      s.size -= uint32_t(sent);
      break;
    }
    sent -= s.size;
    if (s.owner != Owner::None) releaser_->release(s);
    ++head_;
  }
  clear_when_empty();
}

bool OutputQueue::on_socket_full() {
  in_flight_ = false;
  stalled_ = true;
  scratch_.clear();
  // Room for the worst case first (every segment kept or copied, plus one new chunk per 16 KiB
  // and per segment, plus the uncopied rest on failure), so that the failure path below never
  // allocates: an allocation failing there would leave owners both given back and queued.
  try {
    const size_t pending = segments_.size() - head_;
    scratch_.reserve(3 * pending + queued_bytes_ / ChunkPool::kChunkSize + 2);
  } catch (const std::bad_alloc&) {
    return false;  // nothing moved: the caller fails the connection, reset() gives back the owners
  }
  bool ok = true;
  size_t i = head_;
  for (; i < segments_.size() && ok; ++i) {
    const Segment& s = segments_[i];
    if (s.owner == Owner::Chunk || s.owner == Owner::Shared) {
      scratch_.push_back(s);
      continue;
    }
    ok = copy_into_chunks(s.data, s.size, scratch_);
    if (ok) releaser_->release(s);
  }
  // On failure the segments not copied keep their owners (the one that failed may also have been
  // copied in part; nothing more is sent, as the caller fails the connection and reset()s).
  if (!ok) scratch_.insert(scratch_.end(), segments_.begin() + ptrdiff_t(i - 1), segments_.end());
  segments_.swap(scratch_);
  head_ = 0;
  return ok;
}

void OutputQueue::reset() {
  for (size_t i = head_; i < segments_.size(); ++i) releaser_->release(segments_[i]);
  head_ = segments_.size();
  queued_bytes_ = 0;
  in_flight_ = false;
  clear_when_empty();
}

void OutputQueue::clear_when_empty() {
  if (head_ != segments_.size()) return;
  segments_.clear();
  head_ = 0;
  stalled_ = false;
  queued_bytes_ = 0;
}

}  // namespace wsring::server
