// What the engine offers applications that send to many connections, or to connections other
// than the one being served (shootout, push, pubsub): messages framed once into shared frames,
// delivered to any connection of this thread with one reference each, and handed to the other
// reactor threads (which deliver them to their own connections). Slow receivers are handled
// here, the same way for every application: a receiver with more than --max-backpressure bytes
// unsent skips the message (counted) or is closed (--slow-receiver).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "core/frame.hpp"
#include "net/reactor.hpp"
#include "server/shared_frame.hpp"

namespace wsring::server {

class Fanout {
 public:
  // A message framed once: `parts` one after another as one FIN frame, with an application key (a
  // topic). One reference, the caller's (release it when done). nullptr when --max-memory
  // refuses it.
  virtual SharedFrame* frame(core::Opcode opcode, std::initializer_list<std::string_view> parts,
                             std::string_view key = {}) = 0;
  // Queues the frame to an open connection of this thread (a reference, no copy) and starts its
  // send. False when it was not queued: not open, or a slow receiver (skipped or closed).
  virtual bool deliver(net::Token token, SharedFrame& frame) = 0;
  // deliver() to each of `tokens`; returns how many queued it. The references are taken in one
  // step (an atomic add per receiver was the largest user-space cost of a broadcast).
  virtual size_t deliver_all(std::span<const net::Token> tokens, SharedFrame& frame) = 0;
  // Hands the frame to every other reactor thread of the process: their application's
  // on_shared(frame) runs on their own thread.
  virtual void post_to_other_threads(SharedFrame& frame) = 0;
  // A message for one connection (copied), with the same slow-receiver rule as deliver.
  virtual bool send_to(net::Token token, core::Opcode opcode, const void* data, size_t size) = 0;
  // Starts the close handshake of a connection of this thread.
  virtual void close(net::Token token, uint16_t code, std::string_view reason) = 0;
  // Monotonic milliseconds of this loop turn.
  virtual uint64_t now_ms() const = 0;
  // This thread's index and the number of reactor threads.
  virtual unsigned thread_index() const = 0;
  virtual unsigned thread_count() const = 0;

 protected:
  ~Fanout() = default;
};

}  // namespace wsring::server
