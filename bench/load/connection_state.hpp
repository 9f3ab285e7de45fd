// The lifecycle of one wsring-load connection as one state machine: the states, the events that
// move it, and next_state(), the one place that says which moves are legal. LoadWorker performs
// the actions (bench/README.md has the table with them); this header only knows the shape, so
// that every legal and illegal move can be tested without a socket.
#pragma once

#include <cstdint>
#include <optional>

namespace wsring::load {

enum class ConnState : uint8_t {
  Idle,         // no socket; waiting to connect (again, with --handshake-only)
  Connecting,   // socket made, TCP connect under way
  TlsHandshaking,  // wss://: TCP up, ClientHello queued; waiting for the TLS handshake to complete
  Handshaking,  // TCP (and TLS) up, upgrade request queued; waiting for a valid 101
  Open,         // upgraded: messages flow
  CloseSent,    // we queued our close frame (1000); waiting for the server's
  Closed,       // both close frames passed, ours first; waiting for the server to end TCP
  PeerClosed,   // the server's close came first and was answered; waiting for it to end TCP
  Failing,      // the server broke the protocol: our close (1002, 1007, 1009) is queued, its
                // input is ignored (RFC 6455 §7.1.7); waiting for it to end TCP
  Dying,        // the reactor is closing the socket; waiting for on_closed
};
constexpr int kConnStateCount = int(ConnState::Dying) + 1;

enum class ConnEvent : uint8_t {
  Connect,      // a socket was made and its connect started
  Connected,    // TCP connected; the upgrade request is queued
  ConnectedTls, // wss://: TCP connected; the ClientHello is queued
  Secured,      // the TLS handshake completed; the upgrade request is queued
  Upgraded,     // a valid 101 arrived
  CloseQueued,  // we queued our close frame (end of run, --handshake-only)
  ServerClose,  // the server's close frame arrived
  Violation,    // the server broke the protocol (a bad frame, an answer to nothing sent)
  Drop,         // the socket is closed now: error, timeout, end of stream, end of run
  Released,     // on_closed: the socket is gone, the slot may connect again
};
constexpr int kConnEventCount = int(ConnEvent::Released) + 1;

// The state `event` leads to from `state`, or nothing if the move is illegal.
constexpr std::optional<ConnState> next_state(ConnState state, ConnEvent event) {
  using S = ConnState;
  using E = ConnEvent;
  switch (state) {
    case S::Idle:
      if (event == E::Connect) return S::Connecting;
      break;
    case S::Connecting:
      if (event == E::Connected) return S::Handshaking;
      if (event == E::ConnectedTls) return S::TlsHandshaking;
      if (event == E::Drop) return S::Dying;
      break;
    case S::TlsHandshaking:
      if (event == E::Secured) return S::Handshaking;
      if (event == E::Drop) return S::Dying;
      break;
    case S::Handshaking:
      if (event == E::Upgraded) return S::Open;
      if (event == E::Drop) return S::Dying;
      break;
    case S::Open:
      if (event == E::CloseQueued) return S::CloseSent;
      if (event == E::ServerClose) return S::PeerClosed;
      if (event == E::Violation) return S::Failing;
      if (event == E::Drop) return S::Dying;
      break;
    case S::CloseSent:
      if (event == E::ServerClose) return S::Closed;
      if (event == E::Drop) return S::Dying;
      break;
    case S::Closed:
    case S::PeerClosed:
    case S::Failing:
      if (event == E::Drop) return S::Dying;  // nothing is read from them any more
      break;
    case S::Dying:
      if (event == E::Released) return S::Idle;
      break;
  }
  return std::nullopt;
}

// Connecting, securing or upgrading: counted among the pending handshakes.
constexpr bool is_opening(ConnState s) {
  return s == ConnState::Connecting || s == ConnState::TlsHandshaking || s == ConnState::Handshaking;
}

// Upgraded and not yet dying: counted among the open connections.
constexpr bool is_upgraded(ConnState s) {
  return s == ConnState::Open || s == ConnState::CloseSent || s == ConnState::Closed || s == ConnState::PeerClosed ||
         s == ConnState::Failing;
}

// Frames from the server are read (in the other upgraded states they are ignored).
constexpr bool reads_frames(ConnState s) { return s == ConnState::Open || s == ConnState::CloseSent; }

// Waiting for the server to end TCP after the close frames, or after our failing close.
constexpr bool awaits_eof(ConnState s) {
  return s == ConnState::Closed || s == ConnState::PeerClosed || s == ConnState::Failing;
}

constexpr const char* to_string(ConnState s) {
  switch (s) {
    case ConnState::Idle: return "Idle";
    case ConnState::Connecting: return "Connecting";
    case ConnState::TlsHandshaking: return "TlsHandshaking";
    case ConnState::Handshaking: return "Handshaking";
    case ConnState::Open: return "Open";
    case ConnState::CloseSent: return "CloseSent";
    case ConnState::Closed: return "Closed";
    case ConnState::PeerClosed: return "PeerClosed";
    case ConnState::Failing: return "Failing";
    case ConnState::Dying: return "Dying";
  }
  return "?";
}

constexpr const char* to_string(ConnEvent e) {
  switch (e) {
    case ConnEvent::Connect: return "Connect";
    case ConnEvent::Connected: return "Connected";
    case ConnEvent::ConnectedTls: return "ConnectedTls";
    case ConnEvent::Secured: return "Secured";
    case ConnEvent::Upgraded: return "Upgraded";
    case ConnEvent::CloseQueued: return "CloseQueued";
    case ConnEvent::ServerClose: return "ServerClose";
    case ConnEvent::Violation: return "Violation";
    case ConnEvent::Drop: return "Drop";
    case ConnEvent::Released: return "Released";
  }
  return "?";
}

}  // namespace wsring::load
