#include "server/deflate_streams.hpp"

#include <gtest/gtest.h>

#include <zlib.h>

#include <string>
#include <vector>

namespace wsring::server {
namespace {

// One message as a zlib raw deflater writes it: `dictionary` primes the deflater (what a
// takeover sender refers back to); Z_SYNC_FLUSH output loses its 00 00 FF FF (RFC 7692 §7.2.1),
// Z_FINISH output ends with a block with BFINAL set (§7.2.3.3).
std::vector<uint8_t> compress(const std::string& text, int flush, const std::string& dictionary = "") {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  if (!dictionary.empty())
    deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary.data()), uInt(dictionary.size()));
  std::vector<uint8_t> out(text.size() + 1024);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = uInt(text.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  EXPECT_NE(deflate(&z, flush), Z_STREAM_ERROR);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  if (flush == Z_SYNC_FLUSH) out.resize(out.size() - 4);
  return out;
}

struct Inflated {
  StreamStatus status;
  std::string text;
  bool ended;
};

Inflated inflate_one(InflateStream& stream, const std::vector<uint8_t>& packed) {
  std::string text(1 << 16, '\0');
  stream.begin(packed.data(), packed.size());
  size_t n = 0;
  const StreamStatus status = stream.read(reinterpret_cast<uint8_t*>(text.data()), text.size(), &n);
  text.resize(n);
  return {status, text, stream.stream_ended()};
}

const std::string kFirst = "{\"symbol\":\"WSR0001\",\"bid\":101.25,\"ask\":101.5,\"venue\":\"loopback\"}";
const std::string kSecond = "{\"symbol\":\"WSR0002\",\"bid\":99.75,\"ask\":100.0,\"venue\":\"loopback\"}";
const std::string kThird = "{\"symbol\":\"WSR0003\",\"bid\":101.25,\"ask\":101.5,\"venue\":\"loopback\"}";

TEST(InflateStream, AMessageEndingItsStreamIsReportedAndTheNextMessageStillInflates) {
  InflateStream stream;
  ASSERT_TRUE(stream.open(15));
  Inflated a = inflate_one(stream, compress(kFirst, Z_SYNC_FLUSH));
  EXPECT_EQ(a.status, StreamStatus::Done);
  EXPECT_EQ(a.text, kFirst);
  EXPECT_FALSE(a.ended);
  Inflated b = inflate_one(stream, compress(kSecond, Z_FINISH));
  EXPECT_EQ(b.status, StreamStatus::Done);
  EXPECT_EQ(b.text, kSecond);
  EXPECT_TRUE(b.ended);
  // The tail appended after the final block is not read as the start of a new stream.
  Inflated c = inflate_one(stream, compress(kThird, Z_SYNC_FLUSH));
  EXPECT_EQ(c.status, StreamStatus::Done);
  EXPECT_EQ(c.text, kThird);
  EXPECT_FALSE(c.ended);
}

TEST(InflateStream, TheWindowOutlivesAFinalBlock) {
  InflateStream stream;
  ASSERT_TRUE(stream.open(15));
  ASSERT_EQ(inflate_one(stream, compress(kFirst, Z_FINISH)).text, kFirst);
  // A takeover sender's next stream may refer back to what came before the final block.
  const std::vector<uint8_t> refers_back = compress(kThird, Z_SYNC_FLUSH, kFirst);
  ASSERT_LT(refers_back.size(), compress(kThird, Z_SYNC_FLUSH).size());
  Inflated next = inflate_one(stream, refers_back);
  EXPECT_EQ(next.status, StreamStatus::Done);
  EXPECT_EQ(next.text, kThird);
}

TEST(InflateStream, DataAfterAFinalBlockInOneMessageIsANewStream) {
  InflateStream stream;
  ASSERT_TRUE(stream.open(15));
  std::vector<uint8_t> message = compress(kFirst, Z_FINISH);
  const std::vector<uint8_t> rest = compress(kSecond, Z_SYNC_FLUSH);
  message.insert(message.end(), rest.begin(), rest.end());
  Inflated both = inflate_one(stream, message);
  EXPECT_EQ(both.status, StreamStatus::Done);
  EXPECT_EQ(both.text, kFirst + kSecond);
  EXPECT_TRUE(both.ended);
  EXPECT_EQ(inflate_one(stream, compress(kThird, Z_SYNC_FLUSH)).text, kThird);
}

}  // namespace
}  // namespace wsring::server
