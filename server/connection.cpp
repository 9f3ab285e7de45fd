#include "server/connection.hpp"

#include <cassert>

namespace wsring::server {

const char* state_name(ConnState s) {
  switch (s) {
    case ConnState::Free: return "Free";
    case ConnState::Handshaking: return "Handshaking";
    case ConnState::Responding: return "Responding";
    case ConnState::Open: return "Open";
    case ConnState::CloseSent: return "CloseSent";
    case ConnState::PeerDone: return "PeerDone";
    case ConnState::WriteShut: return "WriteShut";
    case ConnState::ClosingFd: return "ClosingFd";
  }
  return "?";
}

const char* event_name(ConnEvent e) {
  switch (e) {
    case ConnEvent::Accepted: return "Accepted";
    case ConnEvent::Upgraded: return "Upgraded";
    case ConnEvent::FinalHttp: return "FinalHttp";
    case ConnEvent::CloseQueued: return "CloseQueued";
    case ConnEvent::PeerClosed: return "PeerClosed";
    case ConnEvent::PeerEnded: return "PeerEnded";
    case ConnEvent::Flushed: return "Flushed";
    case ConnEvent::Abort: return "Abort";
    case ConnEvent::Closed: return "Closed";
  }
  return "?";
}

void Connection::transition(ConnEvent e) {
  const std::optional<ConnState> next = next_state(state, e);
  assert(next && "illegal connection state transition");
  if (next) state = *next;
}

}  // namespace wsring::server
