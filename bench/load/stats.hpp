// The figures a run collects: errors by kind, live counters the progress line reads while the
// workers run, and the totals the summary and the JSON report are made from.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "bench/load/histogram.hpp"
#include "bench/load/scenario_push.hpp"
#include "server/tls_session.hpp"

namespace wsring::load {

enum class ErrorKind : uint8_t {
  ConnectFailed,      // socket(), bind() or connect() failed
  HandshakeFailed,    // the answer to the upgrade request was not a valid 101
  HandshakeTimeout,   // no valid 101 within kHandshakeTimeout of the connect start
  ProtocolError,      // the server sent frames RFC 6455 forbids (as the client-side reader sees it);
                      // the connection is closed with the reader's code (1002, 1007 or 1009)
  Mismatch,           // an echo differed from what was sent (payload, size, type or order)
  UnexpectedMessage,  // a message that answers nothing sent (none outstanding on the wire): the
                      // connection is closed with 1002
  UnexpectedClose,    // the server sent a close frame we had not asked for
  UnexpectedEof,      // the server ended the TCP stream without a close handshake
  RecvError,          // the socket failed while reading (e.g. reset)
  SendError,          // the socket failed while writing
  CloseTimeout,       // the server did not finish the close handshake in time
  TlsFailed,          // wss://: the TLS layer failed (its kind is counted in tls_failures)
  Count,
};
constexpr size_t kErrorKindCount = size_t(ErrorKind::Count);
const char* error_kind_name(ErrorKind kind);  // the JSON key, e.g. "unexpected_eof"

// TLS failures by kind (server::TlsError; None is never counted).
constexpr size_t kTlsErrorCount = size_t(server::TlsError::Internal) + 1;
const char* tls_failure_name(server::TlsError error);  // the JSON key, e.g. "certificate_verify"

// Written by one worker thread only, read by the progress printer: relaxed loads and stores,
// no read-modify-write on the hot path.
class LiveCounter {
 public:
  void add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct alignas(64) LiveCounters {
  LiveCounter sent;            // messages handed to the socket (written into a send buffer)
  LiveCounter received;        // echoes that came back whole (mismatched ones included)
  LiveCounter bytes_sent;      // payload bytes
  LiveCounter bytes_received;  // payload bytes
  LiveCounter lost;            // outstanding on a connection that failed
  LiveCounter in_flight_at_close;  // outstanding on a connection closed at the end of the run
  LiveCounter mismatched;
  LiveCounter errors;          // all kinds
  LiveCounter open;            // connections open now (upgraded, not yet closed)
  LiveCounter opened;          // upgrades completed
  LiveCounter failed;          // connection attempts that failed before the upgrade
  LiveCounter last_echo_ns;    // run clock of the latest complete echo
  // ---- any server, open loop, reconnects ----
  LiveCounter unanswered;      // --match none: sent, the send complete, no reply expected
  LiveCounter unsolicited;     // --match count|none: server messages that answered nothing outstanding
  LiveCounter reconnects;      // --reconnect: connection attempts that reopen a closed connection
  // ---- end ----
  std::atomic<bool> connect_done{false};  // every initial connection is open or has failed
  std::atomic<bool> exhausted{false};     // --messages: budget sent and nothing outstanding
  std::atomic<bool> finished{false};      // every connection closed; the reactor stopped
};

// What a worker hands back at the end (read after join).
struct WorkerTotals {
  uint64_t sent = 0, received = 0, bytes_sent = 0, bytes_received = 0;
  uint64_t lost = 0, in_flight = 0, mismatched = 0;
  uint64_t opened = 0, failed = 0, closed_cleanly = 0;
  uint64_t errors[kErrorKindCount] = {};
  LatencyHistogram latency_us;
  LatencyHistogram connect_us;    // connect start -> TCP connected
  LatencyHistogram handshake_us;  // connect start -> valid 101 (the whole opening)
  LatencyHistogram upgrade_us;    // upgrade request written -> valid 101
  std::string first_detail[kErrorKindCount];  // what the first error of each kind was, for debugging

  // ---- any server, open loop, reconnects (bench/README.md defines them) ----
  uint64_t unanswered = 0;   // --match none: sent (the send complete) with no reply expected
  uint64_t unsolicited = 0;  // --match count|none: server messages that answered nothing
  uint64_t late = 0;         // --rate: written more than kLateNs after their intended time
  uint64_t dropped = 0;      // --rate: due in the window but never written
  uint64_t reconnects = 0, reconnected = 0;  // --reconnect: attempts, and those that upgraded
  LatencyHistogram send_lag_us;  // --rate: intended send time -> written into the send buffer
  // ---- end ----

  // wss:// only.
  LatencyHistogram tls_handshake_us;  // TCP connected -> TLS handshake complete
  uint64_t tls_handshakes = 0;        // completed
  uint64_t tls_resume_offered = 0;    // handshakes started with a previous session's ticket
  uint64_t tls_resumed = 0;           // completed handshakes that resumed a session
  uint64_t tls12 = 0, tls13 = 0;      // completed handshakes by negotiated version
  uint64_t tls13_suites[server::kTls13SuiteCount] = {};  // TLS 1.3 ones by suite (kTls13SuiteNames)
  uint64_t tls_failures[kTlsErrorCount] = {};
  std::string tls_first_failure[kTlsErrorCount];

  // --deflate: payload bytes before compression and on the wire, both ways (an echo the server
  // sent uncompressed counts the same on both sides).
  uint64_t deflate_plain_sent = 0, deflate_wire_sent = 0;
  uint64_t deflate_plain_received = 0, deflate_wire_received = 0;
  uint64_t deflate_agreed = 0;  // connections that agreed on permessage-deflate

  SequenceCounts push;  // --scenario push: what the sequence numbers said

  void merge(const WorkerTotals& other);
  uint64_t error_total() const;
};

}  // namespace wsring::load
