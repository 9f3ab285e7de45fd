#include "server/tls_io.hpp"

#include <algorithm>
#include <cstring>

namespace wsring::server {

namespace {

uint8_t byte_at(const TlsIo& io, size_t i) {
  return i < io.segment_size[0] ? io.segment[0][i] : io.segment[1][i - io.segment_size[0]];
}

// Length of the longest prefix of the logical input made of whole records. OpenSSL (without
// read-ahead) reads a record's 5-byte header, then exactly its body: if it only ever finds whole
// records it never keeps a partial one in its 16 KiB read buffer, which can then be released.
size_t whole_records(const TlsIo& io) {
  const size_t total = io.segment_size[0] + io.segment_size[1];
  size_t pos = 0;
  while (total - pos >= kRecordHeader) {
    const size_t body = size_t(byte_at(io, pos + 3)) << 8 | byte_at(io, pos + 4);
    if (body > kMaxRecordBody) return pos + kRecordHeader;
    if (total - pos - kRecordHeader < body) break;
    pos += kRecordHeader + body;
  }
  return pos;
}

int bio_read(BIO* bio, char* data, size_t size, size_t* done) {
  BIO_clear_retry_flags(bio);
  auto* io = static_cast<TlsIo*>(BIO_get_data(bio));
  size_t n = io ? std::min(size, io->readable) : 0;
  *done = n;
  if (n == 0) {  // no whole record left: wait for the next receive
    BIO_set_retry_read(bio);
    return 0;
  }
  io->readable -= n;
  for (int s = 0; s < 2 && n > 0; ++s) {
    const size_t take = std::min(n, io->segment_size[s]);
    if (take == 0) continue;  // an empty segment may be a null pointer
    std::memcpy(data, io->segment[s], take);
    io->segment[s] += take, io->segment_size[s] -= take;
    data += take, n -= take;
  }
  return 1;
}

// Follows the record headers in what OpenSSL writes (whatever the chunks) to count records.
void count_written_records(TlsIo& io, const uint8_t* data, size_t size) {
  while (size > 0) {
    if (io.written_left > 0) {
      const size_t n = std::min<size_t>(size, io.written_left);
      io.written_left -= uint32_t(n), data += n, size -= n;
      continue;
    }
    io.written_header[io.written_header_size++] = *data++, --size;
    if (io.written_header_size < kRecordHeader) continue;
    io.written_header_size = 0;
    io.written_left = uint32_t(io.written_header[3]) << 8 | io.written_header[4];
    if (io.written_header[0] == 0x17) ++io.protected_written;
  }
}

// Copies a record (or several) into the caller's buffers. Never asks OpenSSL to retry: a
// sink without buffers is a hard error, so a write either completes or fails the session.
int bio_write(BIO* bio, const char* data, size_t size, size_t* done) {
  BIO_clear_retry_flags(bio);
  auto* io = static_cast<TlsIo*>(BIO_get_data(bio));
  *done = 0;
  if (!io) return 0;
  count_written_records(*io, reinterpret_cast<const uint8_t*>(data), size);
  for (size_t written = 0; written < size;) {
    const std::span<uint8_t> room = io->sink->space();
    if (room.empty()) {
      io->sink_dry = true;
      return 0;
    }
    const size_t n = std::min(room.size(), size - written);
    std::memcpy(room.data(), data + written, n);
    io->sink->commit(n);
    written += n;
  }
  *done = size;
  return 1;
}

long bio_ctrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered here; no kTLS, no pending bytes
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

}  // namespace

TlsIo::TlsIo(TlsSession& s, std::span<const uint8_t> input, CiphertextSink& out)
    : session(&s), bio(SSL_get_rbio(s.ssl_)), segment{s.stash_, input.data()},
      segment_size{s.stash_size_, input.size()}, readable(0), sink(&out) {
  readable = whole_records(*this);
  BIO_set_data(bio, this);
}

BIO_METHOD* span_bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsring span");
    if (m) {
      BIO_meth_set_read_ex(m, bio_read);
      BIO_meth_set_write_ex(m, bio_write);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
    }
    return m;
  }();
  return method;
}

void tls_info_callback(const SSL* ssl, int where, int value) {
  if (!(where & SSL_CB_ALERT)) return;
  auto* io = static_cast<TlsIo*>(BIO_get_data(SSL_get_rbio(ssl)));
  if (!io) return;
  io->note_alert(where & SSL_CB_WRITE, static_cast<uint8_t>(value & 0xff));
}

}  // namespace wsring::server
