#include "server/tls_records.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <numeric>
#include <string>
#include <vector>

namespace wsring::server {
namespace {

std::vector<uint8_t> hex(const std::string& text) {
  std::vector<uint8_t> bytes;
  std::string digits;
  for (char c : text)
    if (c != ' ' && c != '\n') digits += c;
  for (size_t i = 0; i + 1 < digits.size(); i += 2) bytes.push_back(uint8_t(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return bytes;
}

// RFC 8448 §3, "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256).
const std::vector<uint8_t> kClientSecret = hex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
const std::vector<uint8_t> kServerSecret = hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
const std::vector<uint8_t> kClientKey = hex("17422dda596ed5d9acd890e3c63f5051");
const std::vector<uint8_t> kClientIv = hex("5b78923dee08579033e523d9");
// The client's application data (seq 0) and close_notify (seq 1); the server's application
// data (seq 1: its NewSessionTicket was seq 0) and close_notify (seq 2). Both carry bytes 0..49.
const std::vector<uint8_t> kClientData = hex(
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b 98 19 a8"
    "a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4");
const std::vector<uint8_t> kClientAlert = hex("17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3");
const std::vector<uint8_t> kServerData = hex(
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36 e3 0e fa f9"
    "7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d");
const std::vector<uint8_t> kServerAlert = hex("17 03 03 00 13 b5 8f d6 71 66 eb f5 99 d2 47 20 cf be 7e fa 7a 88 64 a9");

std::unique_ptr<TlsRecords> rfc_server(uint64_t read_seq = 0, uint64_t write_seq = 1) {
  return TlsRecords::create(Tls13Suite::Aes128GcmSha256, kClientSecret, kServerSecret, read_seq, write_seq);
}

// A client record with any inner plaintext (padding, odd types), sealed with RFC 8448's client
// key and IV by EVP directly, independently of TlsRecords.
std::vector<uint8_t> client_record(uint64_t seq, const std::vector<uint8_t>& inner, uint8_t outer_type = 23) {
  std::vector<uint8_t> record = {outer_type, 3, 3, uint8_t((inner.size() + 16) >> 8), uint8_t(inner.size() + 16)};
  uint8_t nonce[12];
  std::copy(kClientIv.begin(), kClientIv.end(), nonce);
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= uint8_t(seq >> (8 * i));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  record.resize(5 + inner.size() + 16);
  int n = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, kClientKey.data(), nonce), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &n, record.data(), 5), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, record.data() + 5, &n, inner.data(), int(inner.size())), 1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, record.data() + 5 + n, &n), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, record.data() + 5 + inner.size()), 1);
  EVP_CIPHER_CTX_free(ctx);
  return record;
}

std::vector<uint8_t> fifty_bytes() {
  std::vector<uint8_t> bytes(50);
  std::iota(bytes.begin(), bytes.end(), uint8_t(0));
  return bytes;
}

OpenedRecord open(TlsRecords& records, const std::vector<uint8_t>& record, std::vector<uint8_t>* plain = nullptr) {
  std::vector<uint8_t> local;
  if (!plain) plain = &local;
  plain->assign(TlsRecords::plaintext_room(record.size()) + 1, 0xAA);
  return records.open(record, plain->data());
}

TEST(TlsRecords, KnownAnswersFromRfc8448Section3) {
  auto server = rfc_server();
  ASSERT_TRUE(server);
  std::vector<uint8_t> plain;
  OpenedRecord r = open(*server, kClientData, &plain);
  ASSERT_EQ(r.status, RecordStatus::Data);
  ASSERT_EQ(r.plaintext, 50u);
  EXPECT_EQ(std::vector<uint8_t>(plain.begin(), plain.begin() + 50), fifty_bytes());
  r = open(*server, kClientAlert);
  EXPECT_EQ(r.status, RecordStatus::Closed);
  EXPECT_EQ(server->read_seq(), 2u);

  VectorSink out;
  const std::vector<uint8_t> data = fifty_bytes();
  const iovec piece{const_cast<uint8_t*>(data.data()), data.size()};
  ASSERT_EQ(server->seal({&piece, 1}, out), SealStatus::Ok);
  EXPECT_EQ(std::vector<uint8_t>(out.bytes().begin(), out.bytes().end()), kServerData);
  out.clear();
  ASSERT_EQ(server->seal_alert(tls_alert::kCloseNotify, out), SealStatus::Ok);
  EXPECT_EQ(std::vector<uint8_t>(out.bytes().begin(), out.bytes().end()), kServerAlert);
  EXPECT_EQ(server->write_seq(), 3u);
}

TEST(TlsRecords, OpensInPlace) {
  auto server = rfc_server();
  std::vector<uint8_t> record = kClientData;
  const OpenedRecord r = server->open(record, record.data() + TlsRecords::kHeader);
  ASSERT_EQ(r.status, RecordStatus::Data);
  EXPECT_EQ(std::vector<uint8_t>(record.begin() + 5, record.begin() + 55), fifty_bytes());
}

TEST(TlsRecords, PaddingIsStrippedAndSequenceNumbersAdvance) {
  auto server = rfc_server();
  std::vector<uint8_t> inner = {'h', 'i', 23};
  inner.resize(inner.size() + 200, 0);
  std::vector<uint8_t> plain;
  OpenedRecord r = open(*server, client_record(0, inner), &plain);
  ASSERT_EQ(r.status, RecordStatus::Data);
  EXPECT_EQ(r.plaintext, 2u);
  EXPECT_EQ(plain[0], 'h');
  r = open(*server, client_record(1, {23}));  // an empty data record
  EXPECT_EQ(r.status, RecordStatus::Data);
  EXPECT_EQ(r.plaintext, 0u);
  EXPECT_EQ(open(*server, client_record(1, {'x', 23})).alert, tls_alert::kBadRecordMac);  // replayed seq
}

struct BadRecordCase {
  const char* name;
  std::vector<uint8_t> record;
  RecordStatus status;
  uint8_t alert;
};

TEST(TlsRecords, RefusesWhatTls13ForbidsWithTheRightAlert) {
  std::vector<uint8_t> tampered = kClientData;
  tampered[20] ^= 1;
  std::vector<uint8_t> bad_tag = kClientData;
  bad_tag.back() ^= 0x80;
  std::vector<uint8_t> too_long_plain(16385, 'a');
  too_long_plain.push_back(23);
  std::vector<uint8_t> overflow = {23, 3, 3, 0x41, 0x01};  // 2^14 + 257 bytes of ciphertext
  overflow.resize(5 + 0x4101, 0);
  std::vector<uint8_t> max_padding(16384, 'a');  // 2^14 + type + padding to 2^14 + 256 - tag: fine
  max_padding.push_back(23);
  max_padding.resize(16384 + 256 - 16, 0);
  const std::vector<BadRecordCase> cases = {
      {"tampered ciphertext", tampered, RecordStatus::Failed, tls_alert::kBadRecordMac},
      {"tampered tag", bad_tag, RecordStatus::Failed, tls_alert::kBadRecordMac},
      {"too short for a tag", {23, 3, 3, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, RecordStatus::Failed,
       tls_alert::kBadRecordMac},
      {"all zeros inside", client_record(0, std::vector<uint8_t>(30, 0)), RecordStatus::Failed,
       tls_alert::kUnexpectedMessage},
      {"change_cipher_spec", {20, 3, 3, 0, 1, 1}, RecordStatus::Failed, tls_alert::kUnexpectedMessage},
      {"plain handshake record", {22, 3, 3, 0, 4, 24, 0, 0, 0}, RecordStatus::Failed, tls_alert::kUnexpectedMessage},
      {"ciphertext over 2^14+256", overflow, RecordStatus::Failed, tls_alert::kRecordOverflow},
      {"plaintext over 2^14", client_record(0, too_long_plain), RecordStatus::Failed, tls_alert::kRecordOverflow},
      {"inner type 24", client_record(0, {'x', 24}), RecordStatus::Failed, tls_alert::kUnexpectedMessage},
      {"inner change_cipher_spec", client_record(0, {1, 20}), RecordStatus::Failed, tls_alert::kUnexpectedMessage},
      {"handshake: a Finished", client_record(0, {20, 0, 0, 1, 0, 22}), RecordStatus::Failed,
       tls_alert::kUnexpectedMessage},
      {"KeyUpdate with a bad value", client_record(0, {24, 0, 0, 1, 2, 22}), RecordStatus::Failed,
       tls_alert::kIllegalParameter},
      {"two KeyUpdates in a record", client_record(0, {24, 0, 0, 1, 0, 24, 0, 0, 1, 0, 22}), RecordStatus::Failed,
       tls_alert::kUnexpectedMessage},
      {"empty handshake record", client_record(0, {22}), RecordStatus::Failed, tls_alert::kUnexpectedMessage},
      {"alert of 3 bytes", client_record(0, {2, 40, 0, 21}), RecordStatus::Failed, tls_alert::kDecodeError},
      {"fatal alert", client_record(0, {2, 40, 21}), RecordStatus::PeerAlert, 40},
      {"close_notify", client_record(0, {1, 0, 21}), RecordStatus::Closed, tls_alert::kCloseNotify},
  };
  for (const BadRecordCase& c : cases) {
    auto server = rfc_server();
    std::vector<uint8_t> plain;
    const OpenedRecord r = open(*server, c.record, &plain);
    EXPECT_EQ(r.status, c.status) << c.name;
    EXPECT_EQ(r.alert, c.alert) << c.name;
    if (c.status == RecordStatus::Failed && c.alert == tls_alert::kBadRecordMac && c.record.size() > 21) {
      EXPECT_EQ(std::count(plain.begin(), plain.end() - 1, 0), ptrdiff_t(plain.size() - 1)) << "wiped: " << c.name;
    }
  }
  auto server = rfc_server();
  const OpenedRecord r = open(*server, client_record(0, max_padding));
  EXPECT_EQ(r.status, RecordStatus::Data);
  EXPECT_EQ(r.plaintext, 16384u);
}

// Two ends of one connection: a's writes are b's reads.
struct Ends {
  std::unique_ptr<TlsRecords> a, b;
  explicit Ends(Tls13Suite suite) {
    std::vector<uint8_t> x(tls13_secret_size(suite), 0x11), y(tls13_secret_size(suite), 0x22);
    a = TlsRecords::create(suite, x, y);
    b = TlsRecords::create(suite, y, x);
  }
};

// Opens every record of `bytes`; returns the application data, or stops at the first non-Data.
std::vector<uint8_t> open_all(TlsRecords& records, std::span<const uint8_t> bytes, size_t* count = nullptr,
                              RecordStatus* last = nullptr) {
  std::vector<uint8_t> data, plain;
  size_t records_opened = 0;
  while (bytes.size() >= 5) {
    const size_t size = TlsRecords::record_size(bytes.data());
    EXPECT_LE(size, bytes.size());
    plain.resize(TlsRecords::plaintext_room(size));
    const OpenedRecord r = records.open(bytes.first(size), plain.data());
    bytes = bytes.subspan(size);
    ++records_opened;
    if (last) *last = r.status;
    if (r.status != RecordStatus::Data) break;
    data.insert(data.end(), plain.begin(), plain.begin() + r.plaintext);
  }
  if (count) *count = records_opened;
  return data;
}

class TlsRecordSuites : public ::testing::TestWithParam<Tls13Suite> {};

TEST_P(TlsRecordSuites, SealsManyPiecesIntoFullRecords) {
  Ends ends(GetParam());
  ASSERT_TRUE(ends.a && ends.b);
  // Pieces from 0 bytes to 40 KiB, the total just over three records.
  std::vector<std::vector<uint8_t>> pieces;
  size_t total = 0;
  for (size_t size : {0, 2, 32, 1, 1023, 1024, 5000, 0, 40000, 3, 2000}) {
    pieces.emplace_back(size);
    for (size_t i = 0; i < size; ++i) pieces.back()[i] = uint8_t(total + i * 7);
    total += size;
  }
  std::vector<iovec> iov;
  std::vector<uint8_t> expected;
  for (auto& p : pieces) {
    iov.push_back({p.data(), p.size()});
    expected.insert(expected.end(), p.begin(), p.end());
  }
  VectorSink out;
  ASSERT_EQ(ends.a->seal(iov, out), SealStatus::Ok);
  const size_t records = (total + 16383) / 16384;
  EXPECT_EQ(out.bytes().size(), total + records * 22);  // 5 header + 1 type + 16 tag each
  size_t opened = 0;
  EXPECT_EQ(open_all(*ends.b, out.bytes(), &opened), expected);
  EXPECT_EQ(opened, records);
  EXPECT_EQ(ends.a->write_seq(), records);
}

TEST_P(TlsRecordSuites, KeyUpdateBothWays) {
  Ends ends(GetParam());
  VectorSink out;
  ASSERT_EQ(ends.a->send_key_update(true, out), SealStatus::Ok);
  EXPECT_EQ(ends.a->write_seq(), 0u);  // a new key starts at 0
  const uint8_t hello[] = {'h', 'i'};
  const iovec piece{const_cast<uint8_t*>(hello), 2};
  ASSERT_EQ(ends.a->seal({&piece, 1}, out), SealStatus::Ok);
  std::vector<uint8_t> plain(64);
  std::span<const uint8_t> bytes = out.bytes();
  const size_t first = TlsRecords::record_size(bytes.data());
  OpenedRecord r = ends.b->open(bytes.first(first), plain.data());
  ASSERT_EQ(r.status, RecordStatus::KeyUpdate);
  EXPECT_TRUE(r.update_requested);
  EXPECT_EQ(open_all(*ends.b, bytes.subspan(first)), std::vector<uint8_t>(hello, hello + 2));
  out.clear();
  ASSERT_EQ(ends.b->send_key_update(false, out), SealStatus::Ok);
  ASSERT_EQ(ends.b->seal({&piece, 1}, out), SealStatus::Ok);
  bytes = out.bytes();
  r = ends.a->open(bytes.first(TlsRecords::record_size(bytes.data())), plain.data());
  ASSERT_EQ(r.status, RecordStatus::KeyUpdate);
  EXPECT_FALSE(r.update_requested);
  EXPECT_EQ(open_all(*ends.a, bytes.subspan(TlsRecords::record_size(bytes.data()))),
            std::vector<uint8_t>(hello, hello + 2));
}

INSTANTIATE_TEST_SUITE_P(All, TlsRecordSuites,
                         ::testing::Values(Tls13Suite::Aes128GcmSha256, Tls13Suite::Aes256GcmSha384,
                                           Tls13Suite::Chacha20Poly1305Sha256));

// RFC 8446 §5.1: a handshake message may be fragmented over records; a KeyUpdate must still end
// its record, and no other record type may come between its pieces.
TEST(TlsRecords, KeyUpdateInPiecesIsAssembledAndTheReadKeyChangesAfterItsLastPiece) {
  auto server = rfc_server();
  EXPECT_EQ(open(*server, client_record(0, {24, 22})).status, RecordStatus::HandshakePart);
  EXPECT_EQ(open(*server, client_record(1, {0, 0, 22})).status, RecordStatus::HandshakePart);
  const OpenedRecord r = open(*server, client_record(2, {1, 1, 22}));
  ASSERT_EQ(r.status, RecordStatus::KeyUpdate);
  EXPECT_TRUE(r.update_requested);
  const OpenedRecord old_key = open(*server, client_record(3, {'x', 23}));
  EXPECT_EQ(old_key.status, RecordStatus::Failed) << "the read key changed after the KeyUpdate";
  EXPECT_EQ(old_key.alert, tls_alert::kBadRecordMac);
}

TEST(TlsRecords, KeyUpdatePiecesRefusedWhereTheyBreakTheRules) {
  struct Case {
    const char* name;
    std::vector<std::vector<uint8_t>> inners;  // the last one is refused with unexpected_message
  };
  const std::vector<Case> cases = {
      {"application data between the pieces", {{24, 0, 22}, {'x', 23}}},
      {"an alert between the pieces", {{24, 0, 22}, {1, 0, 21}}},
      {"more after the KeyUpdate's last piece", {{24, 0, 22}, {0, 1, 0, 24, 22}}},
      {"a piece of another message", {{20, 0, 22}}},
      {"a second piece that is not a KeyUpdate's", {{24, 0, 22}, {0, 2, 0, 22}}},
      {"an empty piece", {{24, 0, 22}, {22}}},
  };
  for (const Case& c : cases) {
    auto server = rfc_server();
    for (size_t i = 0; i < c.inners.size(); ++i) {
      const OpenedRecord r = open(*server, client_record(i, c.inners[i]));
      if (i + 1 < c.inners.size()) {
        EXPECT_EQ(r.status, RecordStatus::HandshakePart) << c.name << ", piece " << i;
      } else {
        EXPECT_EQ(r.status, RecordStatus::Failed) << c.name;
        EXPECT_EQ(r.alert, tls_alert::kUnexpectedMessage) << c.name;
      }
    }
  }
}

TEST(TlsRecords, SequenceNumbersNeverWrap) {
  auto server = rfc_server(~uint64_t(0), ~uint64_t(0));
  VectorSink out;
  const uint8_t byte = 'x';
  const iovec piece{const_cast<uint8_t*>(&byte), 1};
  EXPECT_EQ(server->seal({&piece, 1}, out), SealStatus::SequenceExhausted);
  EXPECT_EQ(server->seal_alert(tls_alert::kCloseNotify, out), SealStatus::SequenceExhausted);
  EXPECT_TRUE(out.bytes().empty());
  const OpenedRecord r = open(*server, kClientData);
  EXPECT_EQ(r.status, RecordStatus::Failed);
  EXPECT_EQ(r.alert, tls_alert::kInternalError);
  auto last = rfc_server(0, ~uint64_t(0) - 1);  // the last usable number still seals
  EXPECT_EQ(last->seal({&piece, 1}, out), SealStatus::Ok);
  EXPECT_EQ(last->seal({&piece, 1}, out), SealStatus::SequenceExhausted);
}

// Gives buffers of `size` bytes, `count` of them.
class SmallBuffers final : public CiphertextSink {
 public:
  SmallBuffers(size_t size, int count) : size_(size), left_(count) {}
  std::span<uint8_t> space() override {
    if (buffers_.empty() || used_ == size_) {
      if (left_-- <= 0) return {};
      buffers_.emplace_back(size_);
      used_ = 0;
    }
    return {buffers_.back().data() + used_, size_ - used_};
  }
  void commit(size_t n) override {
    used_ += n;
    bytes_.insert(bytes_.end(), buffers_.back().end() - (size_ - used_) - n, buffers_.back().end() - (size_ - used_));
  }
  std::vector<uint8_t> bytes_;

 private:
  std::vector<std::vector<uint8_t>> buffers_;
  size_t size_;
  size_t used_ = 0;
  int left_;
};

TEST(TlsRecords, RecordsSpanSmallBuffersAndADrySinkIsReported) {
  Ends ends(Tls13Suite::Aes128GcmSha256);
  std::vector<uint8_t> data(40000, 'z');
  const iovec piece{data.data(), data.size()};
  // Headers, contents and tags split across buffers anywhere (a 16 KiB chunk holds no full record).
  for (size_t size : {3, 7, 100, 4096, 16384}) {
    SmallBuffers plenty(size, 100000);
    ASSERT_EQ(ends.a->seal({&piece, 1}, plenty), SealStatus::Ok) << size;
    EXPECT_EQ(open_all(*ends.b, plenty.bytes_), data) << size;
  }
  SmallBuffers few(4096, 2);
  EXPECT_EQ(ends.a->seal({&piece, 1}, few), SealStatus::OutOfBuffers);
}

TEST(TlsRecords, RefusesSecretsOfTheWrongSize) {
  EXPECT_FALSE(TlsRecords::create(Tls13Suite::Aes256GcmSha384, kClientSecret, kServerSecret));  // 32, not 48
  Tls13Suite suite;
  EXPECT_TRUE(tls13_suite_from_id(0x1303, &suite));
  EXPECT_EQ(suite, Tls13Suite::Chacha20Poly1305Sha256);
  EXPECT_FALSE(tls13_suite_from_id(0x1304, &suite));  // TLS_AES_128_CCM_SHA256: not here
}

}  // namespace
}  // namespace wsring::server
