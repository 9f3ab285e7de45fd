// The TLS 1.3 record layer (RFC 8446 §5.2-5.5, §7.1-7.3) for an established connection,
// sans-I/O: whole records in, plaintext out into the caller's buffer; plaintext pieces in,
// sealed records out into a CiphertextSink. The handshake is OpenSSL's; once it is done the
// session hands the application traffic secrets over to this layer and frees its SSL (what
// the kernel's TLS module does for kTLS, here in user space with EVP AEAD calls): the
// connection then keeps two cipher contexts, two secrets and two sequence numbers.
//
// Suites: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256.
// Per record: nonce = iv XOR sequence number, AAD = the 5-byte record header, inner plaintext =
// content || content type || zero padding. After the handshake the peer may send application
// data, alerts and KeyUpdate; anything else is a protocol error, reported with the alert that
// must be sent for it (the caller seals that alert with seal_alert and closes).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "server/ciphertext_sink.hpp"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace wsring::server {

enum class Tls13Suite : uint8_t { Aes128GcmSha256, Aes256GcmSha384, Chacha20Poly1305Sha256 };

// The suite with IANA id `id` (0x1301, 0x1302, 0x1303); false for any other (e.g. AES-CCM).
bool tls13_suite_from_id(uint16_t id, Tls13Suite* suite);
// Length of the suite's traffic secrets (its hash's output): 32 or 48 bytes.
size_t tls13_secret_size(Tls13Suite suite);

// TLS AlertDescription values this layer sends or recognises.
namespace tls_alert {
constexpr uint8_t kCloseNotify = 0;
constexpr uint8_t kUnexpectedMessage = 10;
constexpr uint8_t kBadRecordMac = 20;
constexpr uint8_t kRecordOverflow = 22;
constexpr uint8_t kIllegalParameter = 47;
constexpr uint8_t kDecodeError = 50;
constexpr uint8_t kInternalError = 80;
}  // namespace tls_alert

enum class RecordStatus : uint8_t {
  Data,       // application data: `plaintext` bytes (maybe 0) at the front of the output
  KeyUpdate,  // the peer's KeyUpdate: the read key is updated; reply if update_requested
  HandshakePart,  // the start of a KeyUpdate whose rest comes in the next record: nothing yet
  Closed,     // the peer's close_notify
  PeerAlert,  // a fatal alert from the peer (`alert`)
  Failed,     // the record was refused: send `alert`, then close
};

struct OpenedRecord {
  RecordStatus status = RecordStatus::Failed;
  uint8_t alert = tls_alert::kInternalError;  // PeerAlert: received; Failed: to send
  bool update_requested = false;              // KeyUpdate: the peer asks for ours
  size_t plaintext = 0;                       // Data
};

enum class SealStatus : uint8_t {
  Ok,
  OutOfBuffers,       // the sink had no buffer left (records before it are complete)
  SequenceExhausted,  // the write sequence number reached 2^64-1
  Internal,           // OpenSSL failed (out of memory)
};

class TlsRecords {
 public:
  static constexpr size_t kHeader = 5;
  static constexpr size_t kTag = 16;
  static constexpr size_t kMaxPlaintext = 16384;              // 2^14
  static constexpr size_t kMaxCiphertext = kMaxPlaintext + 256;  // 2^14 + 256
  static constexpr uint8_t kAlert = 21;
  static constexpr uint8_t kHandshake = 22;
  static constexpr uint8_t kApplicationData = 23;

  // A record layer with the given traffic secrets (tls13_secret_size(suite) bytes each; they
  // are copied) and first sequence numbers. nullptr if OpenSSL cannot allocate.
  static std::unique_ptr<TlsRecords> create(Tls13Suite suite, std::span<const uint8_t> read_secret,
                                            std::span<const uint8_t> write_secret, uint64_t read_seq = 0,
                                            uint64_t write_seq = 0);
  ~TlsRecords();
  TlsRecords(const TlsRecords&) = delete;
  TlsRecords& operator=(const TlsRecords&) = delete;

  // The record at `header` (at least kHeader bytes): its length, header included.
  static size_t record_size(const uint8_t* header) { return kHeader + (size_t(header[3]) << 8 | header[4]); }
  // Room open() needs for that record's plaintext (the inner plaintext: body minus tag).
  static size_t plaintext_room(size_t record_size) {
    return record_size > kHeader + kTag ? record_size - kHeader - kTag : 0;
  }

  // Opens one whole record (`record`, header included). The inner plaintext is written to
  // `plain`, which has plaintext_room(record.size()) bytes (it may be record.data() + kHeader:
  // in place). Nothing is released unless the tag verified; a failed record's bytes in `plain`
  // are wiped.
  OpenedRecord open(std::span<const uint8_t> record, uint8_t* plain);

  // Seals `pieces` in order as application data, in records filled to 16 KiB.
  SealStatus seal(std::span<const iovec> pieces, CiphertextSink& out);
  // Seals an alert record (level fatal, or warning for close_notify).
  SealStatus seal_alert(uint8_t description, CiphertextSink& out);
  // Sends KeyUpdate(request_update) under the current write key, then updates the write key.
  SealStatus send_key_update(bool request_update, CiphertextSink& out);

  Tls13Suite suite() const { return suite_; }
  uint64_t read_seq() const { return read_.seq; }
  uint64_t write_seq() const { return write_.seq; }

 private:
  static constexpr size_t kIvSize = 12;
  static constexpr size_t kMaxSecret = 48;
  struct Direction {
    EVP_CIPHER_CTX* cipher = nullptr;
    uint64_t seq = 0;
    uint8_t iv[kIvSize] = {};
    uint8_t secret[kMaxSecret] = {};
  };

  explicit TlsRecords(Tls13Suite suite) : suite_(suite) {}
  bool install_keys(Direction& d, bool encrypt);
  bool update_key(Direction& d, bool encrypt);
  bool start_record(Direction& d, bool encrypt, const uint8_t* header, uint8_t* tag);
  SealStatus seal_one(uint8_t type, std::span<const iovec>& pieces, size_t& offset, size_t size,
                      CiphertextSink& out);
  OpenedRecord inner_content(uint8_t* plain, size_t size);

  Direction read_;
  Direction write_;
  Tls13Suite suite_;
  // The bytes of a KeyUpdate split over records (RFC 8446 §5.1 lets a handshake message be
  // fragmented) so far: fewer than its 5.
  uint8_t handshake_part_size_ = 0;
  uint8_t handshake_part_[4] = {};
};

}  // namespace wsring::server
