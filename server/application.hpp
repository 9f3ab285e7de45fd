// What an application sees of the engine. The engine owns the protocol (handshake, framing,
// limits, timers, the close handshake, backpressure); an application decides what to do with
// messages. Echo is one application; others answer, push or fan out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/message_reader.hpp"
#include "net/reactor.hpp"

namespace wsring::server {

class Engine;
class Fanout;
class SharedFrame;
struct Connection;

// A connection, as an application may act on it during a callback.
class Session {
 public:
  Session(Engine& engine, Connection& connection) : engine_(engine), connection_(connection) {}
  net::Token token() const;
  // Sends one whole message; its bytes are copied. False if the connection no longer sends or
  // the memory budget refused the copy (the engine then fails the connection).
  bool send(core::Opcode opcode, const void* data, size_t size);
  // Echo's fast path: frames a received chunk in place, in the buffer it arrived in, and queues
  // it (no copy). Only valid for the chunk of the on_data call being served.
  void reply_in_place(const core::ReadEvent& chunk);
  // Starts the close handshake with this code and reason.
  void close(uint16_t code, std::string_view reason);

 private:
  Engine& engine_;
  Connection& connection_;
};

class Application {
 public:
  virtual ~Application() = default;
  virtual const char* name() const = 0;
  // True for an application whose on_data only ever calls reply_in_place (echo): the engine
  // then frames data chunks in place itself, with no call per message.
  virtual bool echoes_in_place() const { return false; }
  // The upgrade is done (the 101 response is queued).
  virtual void on_open(Session&) {}
  // A piece of a data message, unmasked, in a buffer the engine owns until this call returns:
  // chunk.message_opcode, frame_start/frame_end/frame_fin/message_end, payload/payload_size.
  virtual void on_data(Session& session, const core::ReadEvent& chunk) = 0;
  // The connection is gone (its token may be reused after this call).
  virtual void on_close(net::Token) {}
  // The connection's output drained after backpressure had paused it.
  virtual void on_drain(Session&) {}

  // For applications that fan out (fanout.hpp). attach: once, before anything else, with the
  // engine that serves this application (one application object per reactor thread).
  virtual void attach(Fanout&) {}
  // About every tick of the reactor (50 ms; less with --mode push).
  virtual void on_tick(uint64_t /*now_ms*/) {}
  // At the end of every loop turn, after the turn's receives and accepts: the place to do, in
  // slices, work that on_tick found too large for one turn. True: more is left (the loop then
  // does not sleep before the next turn).
  virtual bool on_turn_end() { return false; }
  // A frame another thread posted (Fanout::post_to_other_threads): deliver it to this thread's
  // receivers. The engine holds a reference for the duration of the call.
  virtual void on_shared(SharedFrame&) {}
};

}  // namespace wsring::server
