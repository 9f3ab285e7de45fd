// Fuzzes the TLS 1.3 record layer opened with fixed keys (TLS_AES_128_GCM_SHA256). The first
// byte chooses what the rest is:
// - even: the ciphertext stream itself, cut into records by their headers (bad tags, bad
//   lengths, bad outer types);
// - odd: a list of items sealed by a client end with the same keys, so that tags verify and
//   the inner parsing is reached: data of any size (records split at 2^14), alerts of any
//   description, KeyUpdates (after one both ends change keys).
// Whatever the bytes: no crash, plaintext never longer than 2^14 nor than the room given, a
// refused record always names an alert to send; the stream stops where the connection would end.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "server/tls_records.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace wsring::server;

using wsring::fuzz::fail;
using wsring::fuzz::check;

// Fixed secrets: the fuzzed layer reads with the first, its client end writes with it.
const std::vector<uint8_t> kClientSecret(32, 0x11);
const std::vector<uint8_t> kServerSecret(32, 0x22);

// The client end: a second record layer whose write direction is the fuzzed layer's read.
std::unique_ptr<TlsRecords> client_end() {
  return TlsRecords::create(Tls13Suite::Aes128GcmSha256, kServerSecret, kClientSecret);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool sealed_mode = data[0] & 1;
  ++data, --size;
  auto server = TlsRecords::create(Tls13Suite::Aes128GcmSha256, kClientSecret, kServerSecret);
  check(server != nullptr, "create");
  std::vector<uint8_t> stream;
  if (!sealed_mode) {
    stream.assign(data, data + size);
  } else {
    // Items (kind, 2-byte length, bytes) sealed by the client end: application data, an
    // alert (description: the item's first byte) or a KeyUpdate (requested: its low bit).
    auto client = client_end();
    check(client != nullptr, "client");
    VectorSink out;
    for (size_t pos = 0; pos + 3 <= size;) {
      const uint8_t kind = data[pos];
      const size_t n = std::min<size_t>(size - pos - 3, size_t(data[pos + 1]) << 8 | data[pos + 2]);
      pos += 3;
      const iovec piece{const_cast<uint8_t*>(data + pos), n};
      pos += n;
      if (kind % 4 == 1) client->seal_alert(n > 0 ? data[pos - n] : 0, out);
      else if (kind % 4 == 2) client->send_key_update(n > 0 && (data[pos - n] & 1), out);
      else client->seal({&piece, 1}, out);
    }
    stream.assign(out.bytes().begin(), out.bytes().end());
  }
  std::vector<uint8_t> plain;
  std::span<const uint8_t> rest(stream);
  while (rest.size() >= TlsRecords::kHeader) {
    size_t record = TlsRecords::record_size(rest.data());
    if (record > rest.size()) record = rest.size();  // a truncated record is still opened: it must fail
    const size_t room = TlsRecords::plaintext_room(record);
    plain.assign(room + 1, 0xEE);
    const OpenedRecord r = server->open(rest.first(record), plain.data());
    rest = rest.subspan(record);
    check(plain[room] == 0xEE, "wrote past the room");
    if (r.status == RecordStatus::Data) {
      check(r.plaintext <= TlsRecords::kMaxPlaintext && r.plaintext <= room, "plaintext too long");
      continue;
    }
    if (r.status == RecordStatus::KeyUpdate || r.status == RecordStatus::HandshakePart) continue;
    if (r.status == RecordStatus::Failed)
      check(r.alert != tls_alert::kCloseNotify, "a refused record without an alert");
    break;  // Closed, PeerAlert, Failed: the connection ends here
  }
  return 0;
}
