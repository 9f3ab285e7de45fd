// Fuzzes a server TlsSession with arbitrary ciphertext. The first byte chooses:
// - bits 0-1: 3 = an established session (a real handshake with a client first, then the rest
//   of the input arrives as if from that client); otherwise a fresh session, so the input is
//   what a client says first (the seed corpus holds real ClientHellos);
// - bits 2-7: how the input is cut into receives (0: at once; n: pseudo-random 1..4n bytes).
// Whatever the bytes, the session must never crash, never leave input unconsumed without
// PlainFull, never hand OpenSSL a partial record, and end in a failure that has a kind.
#include <openssl/ssl.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "server/tls_session.hpp"
#include "tests/unit/tls_test_support.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace wsring;
using server::TlsStatus;

using wsring::fuzz::fail;
using wsring::fuzz::check;

const server::TlsContext& server_context() {
  static const server::TlsContext context = tls_test::server_context(tls_test::pki().ec_cert, tls_test::pki().ec_key);
  return context;
}

const server::TlsContext& client_context() {
  static const server::TlsContext context = tls_test::client_context();
  return context;
}

// Feeds `data` to the session in receives cut by `cut` (0: one receive).
void feed(server::TlsSession& session, const uint8_t* data, size_t size, unsigned cut) {
  server::VectorSink out;
  std::vector<uint8_t> plain(1000);  // small: PlainFull happens
  uint32_t rng = 0x9e3779b9u ^ cut;
  TlsStatus status = TlsStatus::NeedInput;
  for (size_t pos = 0; pos < size && (status == TlsStatus::NeedInput || status == TlsStatus::PlainFull);) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    const size_t n = cut == 0 ? size - pos : std::min(size - pos, size_t(1 + rng % (4 * cut)));
    std::vector<uint8_t> lent(data + pos, data + pos + n);  // exact size: ASan sees any overread
    pos += n;
    std::span<const uint8_t> input(lent);
    for (int rounds = 0;; ++rounds) {
      check(rounds < 1000000, "read() does not make progress");
      const server::TlsReadResult r = session.read(input, plain, out);
      status = r.status;
      check(r.plaintext <= plain.size(), "plaintext beyond the buffer");
      if (status != TlsStatus::PlainFull) break;
    }
    check(input.empty(), "input left without PlainFull");
    check(session.buffered_ciphertext() <= 2 * (5 + 18432), "stash beyond two records");
    if (status == TlsStatus::NeedInput && session.native_handle())
      check(SSL_has_pending(session.native_handle()) == 0, "OpenSSL holds a partial record");
    if (status == TlsStatus::Failed) check(session.failed(), "Failed without an error kind");
    out.clear();
  }
  const server::TlsError end = session.end_of_input();
  check(end != server::TlsError::None || session.close_notify_received(), "end of input without a kind");
  check(session.buffered_ciphertext() == 0, "stash kept after the end");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0] & 3, cut = data[0] >> 2;
  if (mode != 3) {
    server::TlsSession session = server::TlsSession::server(server_context());
    check(bool(session), "no session");
    feed(session, data + 1, size - 1, cut);
    return 0;
  }
  tls_test::Pair pair(client_context(), server_context());
  check(pair.connect(), "handshake");
  const uint8_t byte = 'x';
  pair.server.session.encrypt({&byte, 1}, pair.server.out);  // the server can still send
  feed(pair.server.session, data + 1, size - 1, cut);
  return 0;
}
