#include "server/tls_records.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace wsring::server {

namespace {

constexpr uint64_t kLastSeq = ~uint64_t(0);  // never used: a sequence number must not wrap

struct SuiteInfo {
  const char* cipher;
  const char* digest;
  size_t key_size;
  size_t secret_size;
};

constexpr SuiteInfo kSuites[] = {
    {"AES-128-GCM", "SHA256", 16, 32},
    {"AES-256-GCM", "SHA384", 32, 48},
    {"ChaCha20-Poly1305", "SHA256", 32, 32},
};

const SuiteInfo& info(Tls13Suite suite) { return kSuites[size_t(suite)]; }

// Fetched once: EVP_CIPHER_fetch looks the algorithm up by name.
EVP_CIPHER* cipher_of(Tls13Suite suite) {
  static EVP_CIPHER* const ciphers[3] = {EVP_CIPHER_fetch(nullptr, kSuites[0].cipher, nullptr),
                                          EVP_CIPHER_fetch(nullptr, kSuites[1].cipher, nullptr),
                                          EVP_CIPHER_fetch(nullptr, kSuites[2].cipher, nullptr)};
  return ciphers[size_t(suite)];
}

// An HMAC context per digest and thread, its digest set once and only its key per use: an
// EVP_KDF "HKDF" (or any digest named per call) looks the digest up by name every time, which
// made an expansion 4x dearer (2.4 us against 0.55 us; a hand-off does four).
EVP_MAC_CTX* hmac_of(Tls13Suite suite) {
  struct PerThread {
    EVP_MAC_CTX* by_digest[2] = {nullptr, nullptr};  // SHA-256, SHA-384
    ~PerThread() {
      for (EVP_MAC_CTX* c : by_digest) EVP_MAC_CTX_free(c);
    }
  };
  thread_local PerThread contexts;
  EVP_MAC_CTX*& ctx = contexts.by_digest[info(suite).secret_size == 48 ? 1 : 0];
  if (!ctx) {
    static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* made = hmac ? EVP_MAC_CTX_new(hmac) : nullptr;
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(info(suite).digest), 0),
        OSSL_PARAM_construct_end()};
    if (made && EVP_MAC_CTX_set_params(made, params) != 1) {
      EVP_MAC_CTX_free(made);
      made = nullptr;
    }
    ctx = made;
  }
  return ctx;
}

// HKDF-Expand-Label(secret, label, "", size) (RFC 8446 §7.1). Every output here (a key, an IV,
// the next traffic secret) fits in HKDF-Expand's first block (RFC 5869 §2.3):
// T(1) = HMAC(secret, HkdfLabel || 0x01).
bool expand_label(Tls13Suite suite, const uint8_t* secret, const char* label, uint8_t* out, size_t size) {
  const size_t hash_size = info(suite).secret_size;
  uint8_t hkdf_label[2 + 1 + 255 + 1 + 1];
  const size_t label_size = 6 + std::strlen(label);
  if (size > hash_size || label_size > 255) return false;
  hkdf_label[0] = uint8_t(size >> 8);
  hkdf_label[1] = uint8_t(size);
  hkdf_label[2] = uint8_t(label_size);
  std::memcpy(hkdf_label + 3, "tls13 ", 6);
  std::memcpy(hkdf_label + 9, label, label_size - 6);
  hkdf_label[3 + label_size] = 0;  // empty context
  hkdf_label[4 + label_size] = 1;  // the block counter
  EVP_MAC_CTX* mac = hmac_of(suite);
  uint8_t block[EVP_MAX_MD_SIZE];
  size_t block_size = 0;
  if (!mac || EVP_MAC_init(mac, secret, hash_size, nullptr) != 1 ||
      EVP_MAC_update(mac, hkdf_label, 5 + label_size) != 1 ||
      EVP_MAC_final(mac, block, &block_size, sizeof block) != 1 || block_size != hash_size)
    return false;
  std::memcpy(out, block, size);
  OPENSSL_cleanse(block, sizeof block);
  return true;
}

void write_header(uint8_t* header, uint8_t type, size_t body) {
  header[0] = type;
  header[1] = 0x03;
  header[2] = 0x03;
  header[3] = uint8_t(body >> 8);
  header[4] = uint8_t(body);
}

// Gets (encrypt) or sets (decrypt) the AEAD tag through a parameter array built here, the
// direct form of EVP_CIPHER_CTX_ctrl(EVP_CTRL_AEAD_*_TAG), which builds one per call.
bool tag_param(EVP_CIPHER_CTX* ctx, uint8_t* tag, bool get) {
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, TlsRecords::kTag),
                          OSSL_PARAM_construct_end()};
  return (get ? EVP_CIPHER_CTX_get_params(ctx, params) : EVP_CIPHER_CTX_set_params(ctx, params)) == 1;
}

}  // namespace

bool tls13_suite_from_id(uint16_t id, Tls13Suite* suite) {
  if (id < 0x1301 || id > 0x1303) return false;
  *suite = Tls13Suite(id - 0x1301);
  return true;
}

size_t tls13_secret_size(Tls13Suite suite) { return info(suite).secret_size; }

std::unique_ptr<TlsRecords> TlsRecords::create(Tls13Suite suite, std::span<const uint8_t> read_secret,
                                               std::span<const uint8_t> write_secret, uint64_t read_seq,
                                               uint64_t write_seq) {
  const size_t secret_size = info(suite).secret_size;
  if (read_secret.size() != secret_size || write_secret.size() != secret_size || !cipher_of(suite)) return nullptr;
  std::unique_ptr<TlsRecords> records(new (std::nothrow) TlsRecords(suite));
  if (!records) return nullptr;
  std::memcpy(records->read_.secret, read_secret.data(), secret_size);
  std::memcpy(records->write_.secret, write_secret.data(), secret_size);
  records->read_.seq = read_seq;
  records->write_.seq = write_seq;
  if (!records->install_keys(records->read_, false) || !records->install_keys(records->write_, true)) {
    ERR_clear_error();
    return nullptr;
  }
  return records;
}

TlsRecords::~TlsRecords() {
  EVP_CIPHER_CTX_free(read_.cipher);  // cleanses the key schedule
  EVP_CIPHER_CTX_free(write_.cipher);
  OPENSSL_cleanse(&read_, sizeof read_);
  OPENSSL_cleanse(&write_, sizeof write_);
}

// Key and IV from the direction's secret (RFC 8446 §7.3) into its cipher context.
bool TlsRecords::install_keys(Direction& d, bool encrypt) {
  uint8_t key[32];
  bool ok = expand_label(suite_, d.secret, "key", key, info(suite_).key_size) &&
            expand_label(suite_, d.secret, "iv", d.iv, kIvSize);
  if (ok && !d.cipher) ok = (d.cipher = EVP_CIPHER_CTX_new()) != nullptr;
  if (ok) ok = EVP_CipherInit_ex2(d.cipher, cipher_of(suite_), key, nullptr, encrypt ? 1 : 0, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  return ok;
}

// RFC 8446 §7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length).
bool TlsRecords::update_key(Direction& d, bool encrypt) {
  uint8_t next[kMaxSecret];
  const size_t size = info(suite_).secret_size;
  if (!expand_label(suite_, d.secret, "traffic upd", next, size)) return false;
  std::memcpy(d.secret, next, size);
  OPENSSL_cleanse(next, sizeof next);
  d.seq = 0;
  return install_keys(d, encrypt);
}

// Per-record nonce (RFC 8446 §5.3), the tag when decrypting (`tag`, else null), and the header
// as additional data. AES-GCM takes the whole nonce as its "fixed IV" parameter (length -1: the
// whole IV), together with the tag, in one parameter call: EVP_CipherInit_ex2 would cost four
// times as much, most of it asking the provider for the IV length on every call (OpenSSL 3.0).
bool TlsRecords::start_record(Direction& d, bool encrypt, const uint8_t* header, uint8_t* tag) {
  uint8_t nonce[kIvSize];
  std::memcpy(nonce, d.iv, kIvSize);
  for (int i = 0; i < 8; ++i) nonce[kIvSize - 1 - i] ^= uint8_t(d.seq >> (8 * i));
  bool ok;
  if (suite_ == Tls13Suite::Chacha20Poly1305Sha256) {
    ok = EVP_CipherInit_ex2(d.cipher, nullptr, nullptr, nonce, encrypt ? 1 : 0, nullptr) == 1 &&
         (!tag || tag_param(d.cipher, tag, false));
  } else {
    OSSL_PARAM params[3] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, nonce, ~size_t(0)),
        tag ? OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTag) : OSSL_PARAM_construct_end(),
        OSSL_PARAM_construct_end()};
    ok = EVP_CIPHER_CTX_set_params(d.cipher, params) == 1;
  }
  int n = 0;
  return ok && EVP_CipherUpdate(d.cipher, nullptr, &n, header, int(kHeader)) == 1;
}

// --- receive

OpenedRecord TlsRecords::open(std::span<const uint8_t> record, uint8_t* plain) {
  OpenedRecord result;
  if (record.size() < kHeader) return result;
  if (record[0] != kApplicationData) {  // after the handshake, change_cipher_spec included
    result.alert = tls_alert::kUnexpectedMessage;
    return result;
  }
  if (record.size() - kHeader > kMaxCiphertext) {
    result.alert = tls_alert::kRecordOverflow;
    return result;
  }
  if (record.size() < kHeader + kTag + 1) {  // no room for a content type: cannot be genuine
    result.alert = tls_alert::kBadRecordMac;
    return result;
  }
  if (read_.seq == kLastSeq) return result;  // internal_error: the peer should have updated its key
  const size_t sealed = record.size() - kHeader - kTag;
  uint8_t tag[kTag];
  std::memcpy(tag, record.data() + kHeader + sealed, kTag);  // `plain` may overwrite the record
  int n = 0, last = 0;
  const bool ok = start_record(read_, false, record.data(), tag) &&
                  EVP_DecryptUpdate(read_.cipher, plain, &n, record.data() + kHeader, int(sealed)) == 1 &&
                  size_t(n) == sealed &&
                  EVP_DecryptFinal_ex(read_.cipher, plain + n, &last) == 1;
  if (!ok) {
    ERR_clear_error();
    OPENSSL_cleanse(plain, sealed);
    result.alert = tls_alert::kBadRecordMac;
    return result;
  }
  ++read_.seq;
  return inner_content(plain, sealed);
}

// The inner plaintext: content || type || zeros (RFC 8446 §5.4).
OpenedRecord TlsRecords::inner_content(uint8_t* plain, size_t size) {
  OpenedRecord result;
  while (size > 0 && plain[size - 1] == 0) --size;
  result.alert = tls_alert::kUnexpectedMessage;
  if (size == 0) return result;  // all zeros: no content type
  const uint8_t type = plain[--size];
  if (size > kMaxPlaintext) {
    result.alert = tls_alert::kRecordOverflow;
    return result;
  }
  if (handshake_part_size_ > 0 && type != kHandshake) return result;  // §5.1: no interleaving
  if (type == kApplicationData) {
    result.status = RecordStatus::Data;
    result.plaintext = size;
  } else if (type == kAlert) {
    if (size != 2) {
      result.alert = tls_alert::kDecodeError;
    } else {
      result.status = plain[1] == tls_alert::kCloseNotify ? RecordStatus::Closed : RecordStatus::PeerAlert;
      result.alert = plain[1];
    }
  } else if (type == kHandshake) {
    // After the handshake a client may only send KeyUpdate (we request no certificate): type 24,
    // length 1, request_update. It may come in pieces, never empty ones, and it must end its
    // record (RFC 8446 §5.1): nothing may follow it there.
    static constexpr uint8_t kKeyUpdateHeader[4] = {24, 0, 0, 1};
    uint8_t message[5];
    const size_t have = handshake_part_size_ + size;
    if (size == 0 || have > sizeof message) return result;
    std::memcpy(message, handshake_part_, handshake_part_size_);
    std::memcpy(message + handshake_part_size_, plain, size);
    if (std::memcmp(message, kKeyUpdateHeader, std::min(have, sizeof kKeyUpdateHeader)) != 0) return result;
    if (have < sizeof message) {
      std::memcpy(handshake_part_, message, have);
      handshake_part_size_ = uint8_t(have);
      result.status = RecordStatus::HandshakePart;
      return result;
    }
    handshake_part_size_ = 0;
    const uint8_t request_update = message[4];
    if (request_update > 1) {
      result.alert = tls_alert::kIllegalParameter;
      return result;
    }
    if (!update_key(read_, false)) {
      ERR_clear_error();
      result.alert = tls_alert::kInternalError;
      return result;
    }
    result.status = RecordStatus::KeyUpdate;
    result.update_requested = request_update == 1;
  }
  return result;  // any other type: unexpected_message
}

// --- send

namespace {

// Writes one record into the sink's buffers as it goes, whatever their sizes (a record of 16 KiB
// + 22 does not fit a 16 KiB output chunk): the header and tag as they are, the content through
// the cipher. Small pieces are copied and then encrypted in place in one call (an AEAD call
// costs more than a copy); a large piece is encrypted straight from where it lies.
class RecordWriter {
 public:
  RecordWriter(CiphertextSink& out, EVP_CIPHER_CTX* cipher) : out_(out), cipher_(cipher) {}

  bool put_clear(const uint8_t* data, size_t size) {
    while (size > 0) {
      if (!room_left() && !next_room()) return false;
      const size_t n = std::min(size, room_.size() - used_);
      std::memcpy(room_.data() + used_, data, n);
      used_ += n, data += n, size -= n;
      encrypted_ = used_;
    }
    return true;
  }

  bool put_content(const uint8_t* data, size_t size) {
    constexpr size_t kDirect = 1024;
    while (size > 0) {
      if (!room_left() && !next_room()) return false;
      const size_t n = std::min(size, room_.size() - used_);
      if (n >= kDirect) {
        int written = 0;
        if (!encrypt_copied() ||
            EVP_EncryptUpdate(cipher_, room_.data() + used_, &written, data, int(n)) != 1 || size_t(written) != n)
          return false;
        used_ += n;
        encrypted_ = used_;
      } else {
        std::memcpy(room_.data() + used_, data, n);
        used_ += n;
      }
      data += n, size -= n;
    }
    return true;
  }

  // Encrypts what put_content copied; then the sink holds everything written.
  bool finish() {
    if (!encrypt_copied()) return false;
    if (used_ > 0) out_.commit(used_);
    used_ = encrypted_ = 0;
    room_ = {};
    return true;
  }

  bool dry() const { return dry_; }

 private:
  bool room_left() const { return used_ < room_.size(); }

  bool next_room() {
    if (!finish()) return false;
    room_ = out_.space();
    dry_ = room_.empty();
    return !dry_;
  }

  bool encrypt_copied() {
    int written = 0;
    const size_t n = used_ - encrypted_;
    if (n == 0) return true;
    uint8_t* at = room_.data() + encrypted_;
    encrypted_ = used_;
    return EVP_EncryptUpdate(cipher_, at, &written, at, int(n)) == 1 && size_t(written) == n;
  }

  CiphertextSink& out_;
  EVP_CIPHER_CTX* cipher_;
  std::span<uint8_t> room_;
  size_t used_ = 0;       // bytes of room_ written
  size_t encrypted_ = 0;  // of which final (clear header, tag, or encrypted content)
  bool dry_ = false;
};

}  // namespace

// One record of `size` content bytes from `pieces` (from `offset` in the first piece), then
// the content type, sealed.
SealStatus TlsRecords::seal_one(uint8_t type, std::span<const iovec>& pieces, size_t& offset, size_t size,
                                CiphertextSink& out) {
  if (write_.seq == kLastSeq) return SealStatus::SequenceExhausted;
  uint8_t header[kHeader];
  write_header(header, kApplicationData, size + 1 + kTag);
  RecordWriter writer(out, write_.cipher);
  bool ok = start_record(write_, true, header, nullptr) && writer.put_clear(header, kHeader);
  for (size_t left = size; ok && left > 0;) {
    const iovec& piece = pieces.front();
    const size_t n = std::min(piece.iov_len - offset, left);
    ok = writer.put_content(static_cast<const uint8_t*>(piece.iov_base) + offset, n);
    offset += n, left -= n;
    if (offset == piece.iov_len) pieces = pieces.subspan(1), offset = 0;
  }
  uint8_t tag[kTag];
  int last = 0;
  ok = ok && writer.put_content(&type, 1) && writer.finish() && EVP_EncryptFinal_ex(write_.cipher, tag, &last) == 1 &&
       last == 0 && tag_param(write_.cipher, tag, true) && writer.put_clear(tag, kTag) && writer.finish();
  if (!ok) {
    ERR_clear_error();
    return writer.dry() ? SealStatus::OutOfBuffers : SealStatus::Internal;
  }
  ++write_.seq;
  return SealStatus::Ok;
}

SealStatus TlsRecords::seal(std::span<const iovec> pieces, CiphertextSink& out) {
  size_t total = 0;
  for (const iovec& piece : pieces) total += piece.iov_len;
  while (!pieces.empty() && pieces.front().iov_len == 0) pieces = pieces.subspan(1);
  size_t offset = 0;
  while (total > 0) {
    const size_t size = std::min(total, kMaxPlaintext);
    const SealStatus status = seal_one(kApplicationData, pieces, offset, size, out);
    if (status != SealStatus::Ok) return status;
    total -= size;
    while (!pieces.empty() && pieces.front().iov_len == offset) pieces = pieces.subspan(1), offset = 0;
  }
  return SealStatus::Ok;
}

SealStatus TlsRecords::seal_alert(uint8_t description, CiphertextSink& out) {
  uint8_t alert[2] = {uint8_t(description == tls_alert::kCloseNotify ? 1 : 2), description};
  const iovec piece{alert, sizeof alert};
  std::span<const iovec> pieces(&piece, 1);
  size_t offset = 0;
  return seal_one(kAlert, pieces, offset, sizeof alert, out);
}

SealStatus TlsRecords::send_key_update(bool request_update, CiphertextSink& out) {
  uint8_t message[5] = {24, 0, 0, 1, uint8_t(request_update ? 1 : 0)};
  const iovec piece{message, sizeof message};
  std::span<const iovec> pieces(&piece, 1);
  size_t offset = 0;
  const SealStatus status = seal_one(kHandshake, pieces, offset, sizeof message, out);
  if (status != SealStatus::Ok) return status;
  if (!update_key(write_, true)) {
    ERR_clear_error();
    return SealStatus::Internal;
  }
  return SealStatus::Ok;
}

}  // namespace wsring::server
