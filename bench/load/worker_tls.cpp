// The TLS layer of LoadWorker (wss://), between the reactor and the worker's byte handling:
// - receive: the ciphertext is fed to the connection's TlsSession straight from the reactor's
//   receive buffer (which goes back at once), decrypted into the worker's plaintext buffer and
//   handed to deliver(), the code path a ws:// receive takes;
// - send: flush() encrypts what the filling buffer holds (behind any handshake records the
//   session wrote meanwhile) into `pending`, which becomes `flying` for one send; `flying`
//   stays untouched until on_send, as the plaintext buffer in flight does for ws://.
// The TLS handshake is its own state (TlsHandshaking) before the upgrade; its time, whether it
// resumed a session, and why it failed are counted here.
#include <cstring>

#include "bench/load/worker.hpp"

namespace wsring::load {

using server::TlsError;
using server::TlsStatus;

void LoadWorker::start_tls(net::Token t, Connection& c, uint64_t now) {
  TlsLink& link = *c.tls;
  const bool offer = options_.tls.resume && bool(link.ticket);
  link.session = server::TlsSession::client(plan_.tls, options_.tls.name_for(options_.url),
                                            offer ? link.ticket : server::TlsResumption());
  link.connected_ns = now;
  move(c, ConnEvent::ConnectedTls);
  if (!link.session || !link.session.start(link.pending)) {  // start() writes the ClientHello
    fail_tls(t, c);
    return;
  }
  if (offer) ++totals_.tls_resume_offered;
  flush(t, c);
}

void LoadWorker::receive_tls(net::Token t, Connection& c, const net::RecvBuffer& b, uint64_t now) {
  TlsLink& link = *c.tls;
  std::span<const uint8_t> input(b.data, b.size);
  server::TlsReadResult r;
  // Bounded: each PlainFull round hands over kPlainSize bytes of what this receive holds.
  while (link.session && c.state != ConnState::Dying && c.state != ConnState::Idle) {
    r = link.session.read(input, {plain_.get(), kPlainSize}, link.pending);
    if (r.handshake_done) secured(c, now);
    if (r.plaintext > 0) deliver(t, c, plain_.get(), r.plaintext, now);
    if (r.status != TlsStatus::PlainFull) break;
  }
  reactor_.release_buffer(b.id);  // read() consumed it all (or the connection is gone)
  if (c.state == ConnState::Dying || c.state == ConnState::Idle) return;
  if (r.status == TlsStatus::Failed) {
    fail_tls(t, c);
    return;
  }
  flush(t, c);  // the handshake's next flight, a ticket's nothing, our close_notify after the peer's
}

void LoadWorker::secured(Connection& c, uint64_t now) {
  const server::TlsSession& session = c.tls->session;
  totals_.tls_handshake_us.record((now - c.tls->connected_ns + 500) / 1000);  // us, as ns_to_us()
  ++totals_.tls_handshakes;
  if (session.resumed()) ++totals_.tls_resumed;
  ++(std::strcmp(session.version(), "TLSv1.3") == 0 ? totals_.tls13 : totals_.tls12);  // 1.2 is the floor
  if (const int suite = server::tls13_suite_index(session.cipher()); suite >= 0) ++totals_.tls13_suites[suite];
  move(c, ConnEvent::Secured);
  queue_upgrade_request(c, now);
}

void LoadWorker::flush_tls(net::Token t, Connection& c) {
  if (c.state == ConnState::Idle || c.state == ConnState::Connecting || c.state == ConnState::Dying) return;
  TlsLink& link = *c.tls;
  if (c.fill_len > 0 && link.session.established()) {
    const bool sealed = link.session.encrypt(std::span<const uint8_t>(c.buf[c.fill], c.fill_len), link.pending);
    if (!sealed && link.session.failed()) {
      fail_tls(t, c);
      return;
    }
    // Not sealed but not failed: our close_notify went out already, nothing more can be sent.
    if (sealed) c.wire_seq = c.next_seq;  // they leave in the send below
    c.fill_len = 0;
    c.pong_queued = false;
  }
  // The close handshake is over (or the server closed TLS): our close_notify, once. A server
  // may wait for it before it ends TCP.
  if (awaits_eof(c.state) || link.session.close_notify_received()) link.session.close(link.pending);
  if (link.pending.size() == 0) return;
  std::swap(link.pending, link.flying);
  link.pending.clear();  // what was in flight before: sent
  c.fly_len = uint32_t(link.flying.size());
  c.fly_off = 0;
  send_in_flight_buffer(t, c);
}

// The session failed (or could not be made): counted by kind, then the connection is reset
// like any failed one (an alert the session wrote is not sent).
void LoadWorker::fail_tls(net::Token t, Connection& c, const std::string& why) {
  const server::TlsSession& session = c.tls->session;
  TlsError kind = session.error();
  std::string detail = "connection " + std::to_string(c.global_id) + ": TLS: ";
  if (kind == TlsError::None) {
    kind = TlsError::Internal;
    detail += "no session could be made";
  } else {
    detail += session.describe();
  }
  detail += why;
  const size_t k = size_t(kind);
  if (totals_.tls_failures[k]++ == 0) totals_.tls_first_failure[k] = detail;
  fail(t, c, ErrorKind::TlsFailed, detail);
}

}  // namespace wsring::load
