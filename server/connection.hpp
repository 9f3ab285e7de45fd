// One connection's life as an explicit state machine (the table is in server/README.md), and
// the per-connection record. The record's size is the server's memory per idle connection, so
// it holds only what every connection needs; output state is lent while there is output.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/message_reader.hpp"
#include "net/reactor.hpp"
#include "net/timer_wheel.hpp"

namespace wsring::server {

class OutputQueue;
class TlsSession;  // the TLS transport's per-connection state (nullptr: plaintext)

enum class ConnState : uint8_t {
  Free,         // the slot is unused
  Handshaking,  // reading the HTTP request head
  Responding,   // a final HTTP response (error or page) is queued; input is ignored
  Open,         // WebSocket frames both ways
  CloseSent,    // our close frame is queued; input is read only to find the peer's close
  PeerDone,     // the peer will send nothing more (its close or end of stream): flush, then close
  WriteShut,    // everything is sent and FIN is out: wait for the peer's close or end of stream
  ClosingFd,    // the reactor is closing the socket: wait for on_closed
};

enum class ConnEvent : uint8_t {
  Accepted,      // a socket was handed to us
  Upgraded,      // the 101 response is queued
  FinalHttp,     // an error response or the page is queued
  CloseQueued,   // our close frame is queued (shutdown, timeout, protocol error)
  PeerClosed,    // the peer's close frame arrived (our answer, if any, is queued)
  PeerEnded,     // end of stream (or a receive error) from the peer
  Flushed,       // everything queued has been sent
  Abort,         // close the socket now (timeout, error, reset)
  Closed,        // the reactor reports the socket closed
};

// Why a connection ended: the first decisive event wins (metrics: closed by reason). Keep
// kEndReasons (stats.hpp) and end_reason_name (metrics.cpp) in step.
enum class EndReason : uint8_t {
  Unknown,           // none recorded
  PeerClose,         // the peer's close frame came first
  ServerClose,       // the application closed
  PeerEof,           // end of stream without a close frame
  HttpResponse,      // an HTTP error or the page was answered
  ProtocolError,
  HandshakeTimeout,
  IdleTimeout,
  SendTimeout,
  FrameTimeout,
  Memory,
  NetworkError,      // a receive or send error (reset by the peer...)
  TlsError,
  Shutdown,
};

const char* state_name(ConnState s);
const char* event_name(ConnEvent e);

// The whole transition table: the next state, or nullopt when the event is illegal in `s`.
constexpr std::optional<ConnState> next_state(ConnState s, ConnEvent e) {
  using S = ConnState;
  using E = ConnEvent;
  if (e == E::Abort) return s == S::Free ? std::nullopt : std::optional<S>(S::ClosingFd);
  switch (s) {
    case S::Free:
      if (e == E::Accepted) return S::Handshaking;
      break;
    case S::Handshaking:
      if (e == E::Upgraded) return S::Open;
      if (e == E::FinalHttp) return S::Responding;
      if (e == E::PeerEnded) return S::PeerDone;
      break;
    case S::Responding:
      if (e == E::PeerEnded) return S::PeerDone;
      if (e == E::Flushed) return S::WriteShut;
      break;
    case S::Open:
      if (e == E::CloseQueued) return S::CloseSent;
      if (e == E::PeerClosed || e == E::PeerEnded) return S::PeerDone;
      break;
    case S::CloseSent:
      if (e == E::PeerClosed || e == E::PeerEnded) return S::PeerDone;
      if (e == E::Flushed) return S::WriteShut;
      break;
    case S::PeerDone:
      if (e == E::Flushed) return S::ClosingFd;
      break;
    case S::WriteShut:
      if (e == E::PeerClosed || e == E::PeerEnded) return S::ClosingFd;
      break;
    case S::ClosingFd:
      if (e == E::Closed) return S::Free;
      break;
  }
  return std::nullopt;
}

struct Connection {
  net::TimerLink timer;  // first member: a fired link is cast back to its Connection
  net::Token token = 0;
  uint32_t gather_size = 0;    // bytes of a request head gathered across receive buffers
  core::MessageReader reader{core::Role::Server};
  OutputQueue* out = nullptr;  // lent while there is output
  uint8_t* gather = nullptr;   // a request head that spans receive buffers (slow path)
  TlsSession* tls = nullptr;
  uint64_t last_activity_ms = 0;
  uint64_t deadline_ms = 0;    // when the current state's own limit ends (handshake, close, frame)
  ConnState state = ConnState::Free;
  EndReason end_reason = EndReason::Unknown;  // metrics: what ended it first (ended_by)
  uint16_t deflate = 0;          // permessage-deflate as agreed (DeflateBits); 0: not agreed
  // One byte of flags (eight: full): with the four bytes above the record stays at 176 bytes (an idle
  // connection's memory is this record and little else).
  bool recv_paused : 1 = false;      // backpressure: the reactor does not read this socket
  bool ping_outstanding : 1 = false; // our ping waits for any sign of life
  bool output_parked : 1 = false;    // listed to give its drained output queue back at the next tick
  bool tls_deferred : 1 = false;     // its TLS handshake input waits for a later turn (engine_tls.cpp)
  bool sampled : 1 = false;          // --connection-log keeps this connection's figures (ConnectionLog)
  bool fanout_pending : 1 = false;   // fan-out output queued, flushed at the end of the current callback
  bool proxy_pending : 1 = false;    // a PROXY listener's connection whose header has not come yet
  bool tls_buffers_kept : 1 = false; // its TLS session keeps OpenSSL's buffers until the next tick

  void ended_by(EndReason r) {
    if (end_reason == EndReason::Unknown) end_reason = r;
  }

  // Moves to the state the table gives; an illegal move is a bug (asserted in debug builds)
  // and leaves the state as it was.
  void transition(ConnEvent e);
  // The peer will send no more, or we will read no more of it.
  bool reading_done() const { return state == ConnState::PeerDone || state == ConnState::ClosingFd; }
};

// Connections indexed by token, in blocks of 64 that never move (a token's record keeps its
// address for life) and cost a shift and a mask to index (a deque costs several times that,
// once per completion).
class ConnectionTable {
 public:
  static constexpr uint32_t kBlockBits = 6;  // small blocks: little memory ahead of use
  static constexpr uint32_t kBlockSize = 1u << kBlockBits;

  Connection& operator[](net::Token t) { return blocks_[t >> kBlockBits][t & (kBlockSize - 1)]; }
  size_t size() const { return size_; }
  // A new record at index size() (constructed, Free).
  Connection& grow() {
    if (size_ == blocks_.size() * kBlockSize) blocks_.push_back(std::make_unique<Connection[]>(kBlockSize));
    return (*this)[net::Token(size_++)];
  }

  // Forgets the last record (its block stays, for the next grow()).
  void shrink_last() { --size_; }

  template <typename Visit>
  void for_each(Visit&& visit) {
    for (size_t i = 0; i < size_; ++i) visit((*this)[net::Token(i)]);
  }

 private:
  std::vector<std::unique_ptr<Connection[]>> blocks_;
  size_t size_ = 0;
};

}  // namespace wsring::server
