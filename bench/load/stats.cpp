#include "bench/load/stats.hpp"

namespace wsring::load {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::ConnectFailed: return "connect_failed";
    case ErrorKind::HandshakeFailed: return "handshake_failed";
    case ErrorKind::HandshakeTimeout: return "handshake_timeout";
    case ErrorKind::ProtocolError: return "protocol_error";
    case ErrorKind::Mismatch: return "mismatch";
    case ErrorKind::UnexpectedMessage: return "unexpected_message";
    case ErrorKind::UnexpectedClose: return "unexpected_close";
    case ErrorKind::UnexpectedEof: return "unexpected_eof";
    case ErrorKind::RecvError: return "recv_error";
    case ErrorKind::SendError: return "send_error";
    case ErrorKind::CloseTimeout: return "close_timeout";
    case ErrorKind::TlsFailed: return "tls_failed";
    case ErrorKind::Count: break;
  }
  return "unknown";
}

const char* tls_failure_name(server::TlsError error) {
  using server::TlsError;
  switch (error) {
    case TlsError::None: return "none";
    case TlsError::NotTls: return "not_tls";
    case TlsError::ProtocolVersion: return "protocol_version";
    case TlsError::HandshakeFailed: return "handshake_failed";
    case TlsError::CertificateVerify: return "certificate_verify";
    case TlsError::PeerAlert: return "peer_alert";
    case TlsError::BadRecord: return "bad_record";
    case TlsError::EofInHandshake: return "eof_in_handshake";
    case TlsError::EofWithoutCloseNotify: return "eof_without_close_notify";
    case TlsError::OutOfBuffers: return "out_of_buffers";
    case TlsError::Internal: return "internal";
  }
  return "unknown";
}

void WorkerTotals::merge(const WorkerTotals& other) {
  sent += other.sent;
  received += other.received;
  bytes_sent += other.bytes_sent;
  bytes_received += other.bytes_received;
  lost += other.lost;
  in_flight += other.in_flight;
  mismatched += other.mismatched;
  opened += other.opened;
  failed += other.failed;
  closed_cleanly += other.closed_cleanly;
  deflate_plain_sent += other.deflate_plain_sent;
  deflate_wire_sent += other.deflate_wire_sent;
  deflate_plain_received += other.deflate_plain_received;
  deflate_wire_received += other.deflate_wire_received;
  deflate_agreed += other.deflate_agreed;
  for (size_t k = 0; k < kErrorKindCount; ++k) {
    if (errors[k] == 0 && other.errors[k] != 0) first_detail[k] = other.first_detail[k];
    errors[k] += other.errors[k];
  }
  latency_us.merge(other.latency_us);
  connect_us.merge(other.connect_us);
  handshake_us.merge(other.handshake_us);
  upgrade_us.merge(other.upgrade_us);
  tls_handshake_us.merge(other.tls_handshake_us);
  unanswered += other.unanswered;
  unsolicited += other.unsolicited;
  late += other.late;
  dropped += other.dropped;
  reconnects += other.reconnects;
  reconnected += other.reconnected;
  send_lag_us.merge(other.send_lag_us);
  push.merge(other.push);
  tls_handshakes += other.tls_handshakes;
  tls_resume_offered += other.tls_resume_offered;
  tls_resumed += other.tls_resumed;
  tls12 += other.tls12;
  tls13 += other.tls13;
  for (size_t i = 0; i < server::kTls13SuiteCount; ++i) tls13_suites[i] += other.tls13_suites[i];
  for (size_t k = 0; k < kTlsErrorCount; ++k) {
    if (tls_failures[k] == 0 && other.tls_failures[k] != 0) tls_first_failure[k] = other.tls_first_failure[k];
    tls_failures[k] += other.tls_failures[k];
  }
}

uint64_t WorkerTotals::error_total() const {
  uint64_t total = 0;
  for (uint64_t e : errors) total += e;
  return total;
}

}  // namespace wsring::load
