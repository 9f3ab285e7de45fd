#include "core/message_reader.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "core/unmask.hpp"

namespace wsring::core {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

const uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

// One frame on the wire: header, then payload masked with `mask` when given.
Bytes frame(Opcode opcode, bool fin, const Bytes& payload, const uint8_t* mask = kKey, uint8_t rsv = 0) {
  Bytes out(kMaxFrameHeaderSize);
  out.resize(write_frame_header(out.data(), opcode, fin, payload.size(), mask, rsv));
  const size_t header = out.size();
  out.insert(out.end(), payload.begin(), payload.end());
  if (mask) apply_mask(out.data() + header, payload.size(), mask, 0);
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Feeds pieces to a reader exactly as a server would, checks the API's invariants on every event,
// and keeps a chunking-independent transcript: whole messages, control frames, the error.
class Driver {
 public:
  explicit Driver(Role role, ReaderLimits limits = {}) : reader_(role, limits) {}

  void feed(const Bytes& piece) {
    inputs_.push_back(piece);  // kept alive: events may point into it
    Bytes& input = inputs_.back();
    size_t pos = 0;
    for (int guard = 0; guard < 1000000; ++guard) {
      if (done_) {
        const ReadEvent again = reader_.next(input.data() + pos, input.size() - pos);
        EXPECT_EQ(again.type, ReadEventType::Error);
        return;
      }
      const size_t size = input.size() - pos;
      uint8_t* data = input.data() + pos;
      const ReadEvent ev = reader_.next(data, size);
      events.push_back(ev);
      EXPECT_LE(ev.consumed, size);
      switch (ev.type) {
        case ReadEventType::NeedMore:
          EXPECT_EQ(ev.consumed, size);
          return;
        case ReadEventType::Data:
          on_data(ev, data);
          break;
        case ReadEventType::Control:
          on_control(ev, data);
          break;
        case ReadEventType::Error:
          transcript.push_back("error " + std::to_string(ev.error_code) + " " +
                               (ev.error_reason ? ev.error_reason : "(null)"));
          EXPECT_TRUE(reader_.finished());
          done_ = true;
          continue;
      }
      EXPECT_GT(ev.consumed, 0u) << "an event that consumes nothing could loop forever";
      pos += ev.consumed;
    }
    FAIL() << "reader does not make progress";
  }

  void feed_all(const Bytes& wire, const std::vector<size_t>& cuts) {
    size_t start = 0;
    for (size_t cut : cuts) {
      feed(Bytes(wire.begin() + static_cast<long>(start), wire.begin() + static_cast<long>(cut)));
      start = cut;
    }
    feed(Bytes(wire.begin() + static_cast<long>(start), wire.end()));
  }

  MessageReader& reader() { return reader_; }

  std::vector<std::string> transcript;
  std::vector<ReadEvent> events;
  std::vector<Bytes> messages;  // payloads of completed messages

 private:
  void on_data(const ReadEvent& ev, uint8_t* data) {
    EXPECT_TRUE(ev.message_opcode == Opcode::Text || ev.message_opcode == Opcode::Binary);
    EXPECT_EQ(ev.message_end, ev.frame_end && ev.frame_fin);
    EXPECT_EQ(ev.payload + ev.payload_size, data + ev.consumed) << "chunk ends the consumed bytes";
    EXPECT_GE(ev.payload, data);
    EXPECT_EQ(ev.frame_start, frame_bytes_ == 0);
    if (ev.frame_payload_length == 0) {
      EXPECT_EQ(ev.payload_size, 0u);
      EXPECT_TRUE(ev.frame_start && ev.frame_end);
    } else {
      EXPECT_GT(ev.payload_size, 0u) << "no empty chunk for a non-empty frame";
    }
    if (ev.frame_start) {
      EXPECT_EQ(ev.frame_opcode == Opcode::Continuation, message_.has_value());
      if (!message_) message_.emplace();
      message_opcode_ = ev.message_opcode;
    }
    EXPECT_EQ(ev.message_opcode, message_opcode_);
    message_->insert(message_->end(), ev.payload, ev.payload + ev.payload_size);
    frame_bytes_ += ev.payload_size;
    EXPECT_LE(frame_bytes_, ev.frame_payload_length);
    EXPECT_EQ(ev.frame_end, frame_bytes_ == ev.frame_payload_length);
    if (ev.frame_end) frame_bytes_ = 0;
    EXPECT_EQ(reader_.in_message(), !ev.message_end);
    if (ev.message_end) {
      transcript.push_back(std::string(ev.message_opcode == Opcode::Text ? "text:" : "binary:") +
                           std::string(message_->begin(), message_->end()));
      messages.push_back(*message_);
      message_.reset();
    }
  }

  void on_control(const ReadEvent& ev, uint8_t* data) {
    EXPECT_TRUE(is_control(ev.control_opcode));
    EXPECT_LE(ev.payload_size, kMaxControlPayload);
    if (ev.control_in_input) {
      EXPECT_EQ(ev.payload + ev.payload_size, data + ev.consumed);
    }
    std::string item = ev.control_opcode == Opcode::Ping   ? "ping:"
                       : ev.control_opcode == Opcode::Pong ? "pong:"
                                                           : "close:";
    item.append(ev.payload, ev.payload + ev.payload_size);
    if (ev.control_opcode == Opcode::Close) {
      item += " code " + std::to_string(ev.close.code) + " reason " + std::string(ev.close.reason);
      done_ = true;
      EXPECT_TRUE(reader_.finished());
    }
    transcript.push_back(item);
  }

  MessageReader reader_;
  std::deque<Bytes> inputs_;
  bool done_ = false;
  std::optional<Bytes> message_;
  Opcode message_opcode_ = Opcode::Text;
  uint64_t frame_bytes_ = 0;
};

std::vector<std::string> transcript_of(const Bytes& wire, Role role = Role::Server, ReaderLimits limits = {},
                                       const std::vector<size_t>& cuts = {}) {
  Driver driver(role, limits);
  driver.feed_all(wire, cuts);
  return driver.transcript;
}

// Feeding the wire whole, split in two at every point, and byte by byte gives one transcript.
void expect_split_invariant(const Bytes& wire, Role role = Role::Server, ReaderLimits limits = {},
                            bool every_split = true) {
  const auto whole = transcript_of(wire, role, limits);
  if (every_split) {
    for (size_t split = 0; split <= wire.size(); ++split) {
      ASSERT_EQ(transcript_of(wire, role, limits, {split}), whole) << "split at " << split;
    }
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < wire.size(); ++i) every.push_back(i);
  ASSERT_EQ(transcript_of(wire, role, limits, every), whole) << "byte by byte";
}

// --- RFC 6455 §5.7 examples -------------------------------------------------------------------

TEST(MessageReader, Rfc6455MaskedHello) {
  Bytes wire = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  MessageReader reader(Role::Server);
  const ReadEvent ev = reader.next(wire.data(), wire.size());
  ASSERT_EQ(ev.type, ReadEventType::Data);
  EXPECT_EQ(ev.consumed, wire.size());
  EXPECT_EQ(ev.payload, wire.data() + 6) << "unmasked in place, not copied";
  EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "Hello");
  EXPECT_EQ(ev.message_opcode, Opcode::Text);
  EXPECT_EQ(ev.frame_opcode, Opcode::Text);
  EXPECT_TRUE(ev.frame_start && ev.frame_end && ev.frame_fin && ev.message_end);
  EXPECT_EQ(ev.frame_payload_length, 5u);
  EXPECT_FALSE(reader.in_message());
  const ReadEvent more = reader.next(wire.data() + wire.size(), 0);
  EXPECT_EQ(more.type, ReadEventType::NeedMore);
  EXPECT_EQ(more.consumed, 0u);
}

TEST(MessageReader, Rfc6455UnmaskedHelloIsClientOnly) {
  const Bytes wire = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  EXPECT_EQ(transcript_of(wire, Role::Client), std::vector<std::string>{"text:Hello"});
  EXPECT_EQ(transcript_of(wire, Role::Server), std::vector<std::string>{"error 1002 unmasked client frame"});
  const Bytes masked = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  EXPECT_EQ(transcript_of(masked, Role::Client), std::vector<std::string>{"error 1002 masked server frame"});
}

TEST(MessageReader, Rfc6455FragmentedHello) {
  Bytes wire = concat({frame(Opcode::Text, false, text("Hel")), frame(Opcode::Continuation, true, text("lo"))});
  MessageReader reader(Role::Server);
  ReadEvent ev = reader.next(wire.data(), wire.size());
  ASSERT_EQ(ev.type, ReadEventType::Data);
  EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "Hel");
  EXPECT_TRUE(ev.frame_end);
  EXPECT_FALSE(ev.message_end);
  EXPECT_TRUE(reader.in_message());
  const size_t first = ev.consumed;
  EXPECT_EQ(first, 9u);
  ev = reader.next(wire.data() + first, wire.size() - first);
  ASSERT_EQ(ev.type, ReadEventType::Data);
  EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "lo");
  EXPECT_EQ(ev.message_opcode, Opcode::Text);
  EXPECT_EQ(ev.frame_opcode, Opcode::Continuation);
  EXPECT_TRUE(ev.message_end);
  EXPECT_FALSE(reader.in_message());
  EXPECT_EQ(first + ev.consumed, wire.size());

  // The unmasked RFC bytes, for a client.
  const Bytes unmasked = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
  EXPECT_EQ(transcript_of(unmasked, Role::Client), std::vector<std::string>{"text:Hello"});
}

TEST(MessageReader, Rfc6455PingPong) {
  Bytes ping = {0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  MessageReader reader(Role::Server);
  const ReadEvent ev = reader.next(ping.data(), ping.size());
  ASSERT_EQ(ev.type, ReadEventType::Control);
  EXPECT_EQ(ev.control_opcode, Opcode::Ping);
  EXPECT_TRUE(ev.control_in_input);
  EXPECT_EQ(ev.payload, ping.data() + 6);
  EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "Hello");
  EXPECT_EQ(ev.consumed, ping.size());

  const Bytes pong = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  EXPECT_EQ(transcript_of(pong), std::vector<std::string>{"pong:Hello"});
  EXPECT_EQ(transcript_of(Bytes{0x89, 0x05, 'H', 'e', 'l', 'l', 'o'}, Role::Client),
            std::vector<std::string>{"ping:Hello"});
}

TEST(MessageReader, Rfc6455LargeBinaryLengths) {
  for (size_t length : {size_t{256}, size_t{65536}}) {
    Bytes payload(length);
    for (size_t i = 0; i < length; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 3);
    Bytes wire = frame(Opcode::Binary, true, payload);
    MessageReader reader(Role::Server);
    const ReadEvent ev = reader.next(wire.data(), wire.size());
    ASSERT_EQ(ev.type, ReadEventType::Data);
    EXPECT_EQ(ev.message_opcode, Opcode::Binary);
    EXPECT_EQ(ev.consumed, wire.size());
    EXPECT_EQ(Bytes(ev.payload, ev.payload + ev.payload_size), payload);
  }
}

// --- lengths and chunking ----------------------------------------------------------------------

TEST(MessageReader, LengthBoundaries) {
  for (size_t length : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{127}, size_t{65535}, size_t{65536}}) {
    SCOPED_TRACE(length);
    Bytes payload(length, 'x');
    Driver driver(Role::Server);
    driver.feed(frame(Opcode::Text, true, payload));
    ASSERT_EQ(driver.messages.size(), 1u);
    EXPECT_EQ(driver.messages[0], payload);
    // Whole frame in one input: exactly one Data event (then nothing more to read).
    ASSERT_EQ(driver.events.size(), 2u);
    EXPECT_EQ(driver.events[0].type, ReadEventType::Data);
    EXPECT_EQ(driver.events[1].type, ReadEventType::NeedMore);
  }
}

TEST(MessageReader, EmptyFrameGivesOneEmptyDataEvent) {
  Bytes wire = frame(Opcode::Binary, true, {});
  MessageReader reader(Role::Server);
  const ReadEvent ev = reader.next(wire.data(), wire.size());
  ASSERT_EQ(ev.type, ReadEventType::Data);
  EXPECT_EQ(ev.payload_size, 0u);
  EXPECT_EQ(ev.consumed, 6u);
  EXPECT_TRUE(ev.frame_start && ev.frame_end && ev.message_end);
  EXPECT_EQ(ev.message_opcode, Opcode::Binary);
}

TEST(MessageReader, HeaderWithoutPayloadNeedsMore) {
  Bytes wire = frame(Opcode::Text, true, text("payload"));
  MessageReader reader(Role::Server);
  ReadEvent ev = reader.next(wire.data(), 6);
  EXPECT_EQ(ev.type, ReadEventType::NeedMore);
  EXPECT_EQ(ev.consumed, 6u);
  EXPECT_TRUE(reader.in_message());
  ev = reader.next(wire.data() + 6, 3);
  ASSERT_EQ(ev.type, ReadEventType::Data);
  EXPECT_TRUE(ev.frame_start);
  EXPECT_FALSE(ev.frame_end);
  EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "pay");
  ev = reader.next(wire.data() + 9, wire.size() - 9);
  ASSERT_EQ(ev.type, ReadEventType::Data);
  EXPECT_FALSE(ev.frame_start);
  EXPECT_TRUE(ev.frame_end && ev.message_end);
  EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "load");
  EXPECT_EQ(ev.frame_payload_length, 7u);
}

TEST(MessageReader, ControlFramesBetweenFragments) {
  const Bytes wire = concat({frame(Opcode::Text, false, text("frag")), frame(Opcode::Ping, true, text("p1")),
                             frame(Opcode::Continuation, false, text("men")),
                             frame(Opcode::Pong, true, {}), frame(Opcode::Continuation, true, text("ted")),
                             frame(Opcode::Binary, true, text("bin"))});
  const std::vector<std::string> expected = {"ping:p1", "pong:", "text:fragmented", "binary:bin"};
  EXPECT_EQ(transcript_of(wire), expected);
  expect_split_invariant(wire);
}

TEST(MessageReader, StraddlingControlPayloadIsGathered) {
  Bytes wire = frame(Opcode::Ping, true, text("0123456789"));
  for (size_t split = 1; split < wire.size(); ++split) {
    SCOPED_TRACE(split);
    MessageReader reader(Role::Server);
    Bytes first(wire.begin(), wire.begin() + static_cast<long>(split));
    Bytes second(wire.begin() + static_cast<long>(split), wire.end());
    ReadEvent ev = reader.next(first.data(), first.size());
    ASSERT_EQ(ev.type, ReadEventType::NeedMore);
    ASSERT_EQ(ev.consumed, first.size());
    ev = reader.next(second.data(), second.size());
    ASSERT_EQ(ev.type, ReadEventType::Control);
    EXPECT_EQ(ev.consumed, second.size());
    EXPECT_FALSE(ev.control_in_input) << "the frame did not lie wholly in one input";
    EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "0123456789");
  }
}

TEST(MessageReader, SplitControlPayloadBorrowsFromThePoolAndGivesItBack) {
  BufferPool pool(128, 1);
  Bytes wire = frame(Opcode::Ping, true, text("pool payload"));
  MessageReader reader(Role::Server, {}, &pool);
  Bytes first(wire.begin(), wire.begin() + 8), second(wire.begin() + 8, wire.end());
  ASSERT_EQ(reader.next(first.data(), first.size()).type, ReadEventType::NeedMore);
  EXPECT_EQ(pool.in_use(), 1u) << "the split payload is gathered in a pool buffer";
  ReadEvent ev = reader.next(second.data(), second.size());
  ASSERT_EQ(ev.type, ReadEventType::Control);
  EXPECT_EQ(std::string(ev.payload, ev.payload + ev.payload_size), "pool payload");
  Bytes more = frame(Opcode::Text, true, text("x"));
  ASSERT_EQ(reader.next(more.data(), more.size()).type, ReadEventType::Data);
  EXPECT_EQ(pool.in_use(), 0u) << "given back once the event has been consumed";
}

TEST(MessageReader, SplitControlPayloadWithAnEmptyPoolFails1011) {
  BufferPool pool(128, 1);
  uint8_t* held = pool.acquire();
  Bytes wire = frame(Opcode::Ping, true, text("no room"));
  MessageReader reader(Role::Server, {}, &pool);
  ReadEvent ev = reader.next(wire.data(), 8);
  ASSERT_EQ(ev.type, ReadEventType::Error);
  EXPECT_EQ(ev.error_code, close_code::internal_error);
  pool.release(held);
}

TEST(MessageReader, ReaderStaysSmall) {
  // One reader per connection: its size is memory per idle connection.
  EXPECT_LE(sizeof(MessageReader), 112u);
}

TEST(MessageReader, UtfCodePointAcrossFrames) {
  // "€" split over three frames, and a 4-byte emoji split over two.
  const Bytes wire = concat({frame(Opcode::Text, false, {0xE2}), frame(Opcode::Continuation, false, {0x82}),
                             frame(Opcode::Continuation, true, {0xAC}),
                             frame(Opcode::Text, false, {'a', 0xF0, 0x9F}),
                             frame(Opcode::Continuation, true, {0x98, 0x80})});
  EXPECT_EQ(transcript_of(wire), (std::vector<std::string>{"text:\xE2\x82\xAC", "text:a\xF0\x9F\x98\x80"}));
  expect_split_invariant(wire);
}

// A varied stream fed whole, split at every point and byte by byte.
TEST(MessageReader, EverySplitPointGivesTheSameMessages) {
  Bytes big(300);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  const uint8_t key2[4] = {0x00, 0xFF, 0x10, 0x80};
  const Bytes wire = concat({frame(Opcode::Text, true, text("single")),
                             frame(Opcode::Text, false, text("κό")), frame(Opcode::Ping, true, text("mid"), key2),
                             frame(Opcode::Continuation, false, {}),
                             frame(Opcode::Continuation, true, text("σμε")), frame(Opcode::Binary, true, big, key2),
                             frame(Opcode::Text, true, {}), frame(Opcode::Pong, true, Bytes(125, 'P')),
                             frame(Opcode::Binary, false, Bytes(126, 1)),
                             frame(Opcode::Continuation, true, Bytes(1, 2)),
                             frame(Opcode::Close, true, concat({{0x03, 0xE8}, text("done")}))});
  const auto whole = transcript_of(wire);
  ASSERT_EQ(whole.size(), 8u);
  EXPECT_EQ(whole[0], "text:single");
  EXPECT_EQ(whole[1], "ping:mid");
  EXPECT_EQ(whole[2], "text:κόσμε");
  EXPECT_EQ(whole[3], "binary:" + std::string(big.begin(), big.end()));
  EXPECT_EQ(whole[4], "text:");
  EXPECT_EQ(whole[7], "close:\x03\xE8" "done code 1000 reason done");
  expect_split_invariant(wire);
}

TEST(MessageReader, LargeFramesByteByByte) {
  Bytes payload(70000);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>('a' + i % 26);
  const Bytes wire = concat({frame(Opcode::Text, false, payload), frame(Opcode::Continuation, true, payload)});
  const auto whole = transcript_of(wire);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].size(), 5 + 2 * payload.size());
  expect_split_invariant(wire, Role::Server, {}, false);
  for (size_t split : {size_t{1}, size_t{13}, size_t{14}, size_t{15}, size_t{70014}, size_t{70015}, size_t{70020}}) {
    EXPECT_EQ(transcript_of(wire, Role::Server, {}, {split}), whole) << split;
  }
}

// --- errors ------------------------------------------------------------------------------------

struct ErrorCase {
  const char* name;
  Bytes wire;
  uint16_t code;
  const char* reason;
};

TEST(MessageReader, EveryProtocolViolation) {
  const Bytes ok_fragment = frame(Opcode::Text, false, text("a"));
  Bytes top_bit = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
  Bytes long_ping = {0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4};
  std::vector<ErrorCase> cases = {
      {"unmasked client frame", frame(Opcode::Text, true, text("x"), nullptr), 1002, "unmasked client frame"},
      {"RSV1", frame(Opcode::Text, true, text("x"), kKey, 4), 1002, "RSV bits set without extension"},
      {"RSV2", frame(Opcode::Binary, true, text("x"), kKey, 2), 1002, "RSV bits set without extension"},
      {"RSV3", frame(Opcode::Ping, true, {}, kKey, 1), 1002, "RSV bits set without extension"},
      {"control payload 126", long_ping, 1002, "control frame too long"},
      {"fragmented ping", frame(Opcode::Ping, false, {}), 1002, "fragmented control frame"},
      {"fragmented close", frame(Opcode::Close, false, {0x03, 0xE8}), 1002, "fragmented control frame"},
      {"64-bit length top bit", top_bit, 1002, "64-bit payload length with the most significant bit set"},
      {"continuation without message", frame(Opcode::Continuation, true, text("x")), 1002,
       "continuation without message"},
      {"text inside fragmented", concat({ok_fragment, frame(Opcode::Text, true, text("b"))}), 1002,
       "new message inside fragmented message"},
      {"binary inside fragmented", concat({ok_fragment, frame(Opcode::Binary, true, text("b"))}), 1002,
       "new message inside fragmented message"},
      {"invalid UTF-8", frame(Opcode::Text, true, {'a', 0xFF}), 1007, "invalid UTF-8 in text message"},
      {"surrogate across frames", concat({frame(Opcode::Text, false, {0xED}), frame(Opcode::Continuation, true, {0xA0, 0x80})}),
       1007, "invalid UTF-8 in text message"},
      {"text ends inside code point", frame(Opcode::Text, true, {'a', 0xE2, 0x82}), 1007,
       "text message ends inside a UTF-8 code point"},
      {"fragmented text ends inside code point",
       concat({frame(Opcode::Text, false, {0xE2}), frame(Opcode::Continuation, true, {0x82})}), 1007,
       "text message ends inside a UTF-8 code point"},
      {"close with 1 byte", frame(Opcode::Close, true, {0x03}), 1002, "close payload of 1 byte"},
      {"close code 1005", frame(Opcode::Close, true, {0x03, 0xED}), 1002, "invalid close code"},
      {"close code 999", frame(Opcode::Close, true, {0x03, 0xE7}), 1002, "invalid close code"},
      {"close reason invalid", frame(Opcode::Close, true, {0x03, 0xE8, 0xC0, 0x80}), 1007,
       "invalid UTF-8 in close reason"},
  };
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    Bytes wire = frame(Opcode::Binary, true, text("x"));
    wire[0] = static_cast<uint8_t>(0x80 | op);
    cases.push_back({"reserved opcode", wire, 1002, "reserved opcode"});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto transcript = transcript_of(c.wire);
    ASSERT_FALSE(transcript.empty());
    EXPECT_EQ(transcript.back(), "error " + std::to_string(c.code) + " " + c.reason);
    expect_split_invariant(c.wire);
  }
}

TEST(MessageReader, BinaryIsNotUtf8Checked) {
  EXPECT_EQ(transcript_of(frame(Opcode::Binary, true, {0xFF, 0xED, 0xA0})),
            std::vector<std::string>{"binary:\xFF\xED\xA0"});
}

TEST(MessageReader, Utf8ErrorIsReportedAtTheFailingChunk) {
  // Valid chunks before the bad one are delivered first; the bad chunk is an Error, not Data.
  Bytes wire = frame(Opcode::Text, true, text("hello \xED\xA0\x80 world"));
  Driver driver(Role::Server);
  driver.feed_all(wire, {6 + 4, 6 + 7});  // "hell", "o \xED", "\xA0..."
  ASSERT_EQ(driver.events.size(), 5u);
  EXPECT_EQ(driver.events[0].type, ReadEventType::Data);
  EXPECT_EQ(driver.events[1].type, ReadEventType::NeedMore);
  EXPECT_EQ(driver.events[2].type, ReadEventType::Data);
  EXPECT_EQ(driver.events[3].type, ReadEventType::NeedMore);
  EXPECT_EQ(driver.events[4].type, ReadEventType::Error);
  EXPECT_EQ(driver.events[4].error_code, 1007);
}

TEST(MessageReader, MessageTooBigDecidedFromHeader) {
  const ReaderLimits limits{10};
  // Exactly the limit is fine, in one frame or several.
  EXPECT_EQ(transcript_of(frame(Opcode::Binary, true, Bytes(10, 'b')), Role::Server, limits),
            std::vector<std::string>{"binary:bbbbbbbbbb"});
  EXPECT_EQ(transcript_of(concat({frame(Opcode::Text, false, text("12345")),
                                  frame(Opcode::Continuation, true, text("67890"))}),
                          Role::Server, limits),
            std::vector<std::string>{"text:1234567890"});

  // One byte over: the header alone decides, no payload needed.
  Bytes wire = frame(Opcode::Binary, true, Bytes(11, 'b'));
  MessageReader reader(Role::Server, limits);
  const ReadEvent ev = reader.next(wire.data(), 6);
  ASSERT_EQ(ev.type, ReadEventType::Error);
  EXPECT_EQ(ev.error_code, 1009);
  EXPECT_STREQ(ev.error_reason, "message too big");

  // Over the limit only in sum: the first fragment is delivered, the second header fails.
  const Bytes sum = concat({frame(Opcode::Text, false, text("123456")), frame(Opcode::Continuation, true, text("78901"))});
  Driver driver(Role::Server, limits);
  driver.feed(sum);
  ASSERT_GE(driver.events.size(), 2u);
  EXPECT_EQ(driver.events[0].type, ReadEventType::Data);
  EXPECT_EQ(driver.events[1].type, ReadEventType::Error);
  EXPECT_EQ(driver.events[1].error_code, 1009);

  // Huge declared lengths do not overflow the arithmetic.
  Bytes huge = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
  EXPECT_EQ(transcript_of(huge), std::vector<std::string>{"error 1009 message too big"});
  // Control frames do not count towards the message size.
  EXPECT_EQ(transcript_of(concat({frame(Opcode::Text, false, text("12345")), frame(Opcode::Ping, true, Bytes(100, 'p')),
                                  frame(Opcode::Continuation, true, text("67890"))}),
                          Role::Server, limits)
                .back(),
            "text:1234567890");
}

TEST(MessageReader, SetLimitsAppliesToLaterHeaders) {
  MessageReader reader(Role::Server);
  reader.set_limits({4});
  EXPECT_EQ(reader.limits().max_message_size, 4u);
  Bytes wire = frame(Opcode::Text, true, text("12345"));
  EXPECT_EQ(reader.next(wire.data(), wire.size()).error_code, 1009);
}

TEST(MessageReader, FinishedAfterErrorOrClose) {
  Bytes bad = concat({frame(Opcode::Continuation, true, text("x")), frame(Opcode::Text, true, text("ok"))});
  MessageReader reader(Role::Server);
  ReadEvent ev = reader.next(bad.data(), bad.size());
  ASSERT_EQ(ev.type, ReadEventType::Error);
  ev = reader.next(bad.data() + 7, bad.size() - 7);
  EXPECT_EQ(ev.type, ReadEventType::Error);
  EXPECT_EQ(ev.error_code, 1002);
  EXPECT_STREQ(ev.error_reason, "continuation without message");

  Bytes closing = concat({frame(Opcode::Close, true, concat({{0x0F, 0xA0}, text("bye")})), frame(Opcode::Text, true, text("late"))});
  MessageReader closed(Role::Server);
  ev = closed.next(closing.data(), closing.size());
  ASSERT_EQ(ev.type, ReadEventType::Control);
  EXPECT_EQ(ev.control_opcode, Opcode::Close);
  EXPECT_EQ(ev.close.code, 4000);
  EXPECT_EQ(ev.close.reason, "bye");
  EXPECT_TRUE(ev.control_in_input);
  EXPECT_TRUE(closed.finished());
  ev = closed.next(closing.data() + ev.consumed, closing.size() - ev.consumed);
  EXPECT_EQ(ev.type, ReadEventType::Error);
  EXPECT_EQ(ev.error_code, 1002);
}

TEST(MessageReader, EmptyCloseReportsNoStatus) {
  EXPECT_EQ(transcript_of(frame(Opcode::Close, true, {})), std::vector<std::string>{"close: code 1005 reason "});
}

// --- client role --------------------------------------------------------------------------------

TEST(MessageReader, ClientRoleReadsServerFrames) {
  const Bytes wire = concat({frame(Opcode::Text, false, text("Hel"), nullptr), frame(Opcode::Ping, true, text("!"), nullptr),
                             frame(Opcode::Continuation, true, text("lo"), nullptr),
                             frame(Opcode::Binary, true, Bytes(200, 9), nullptr),
                             frame(Opcode::Close, true, {0x03, 0xE9}, nullptr)});
  const auto transcript = transcript_of(wire, Role::Client);
  ASSERT_EQ(transcript.size(), 4u);
  EXPECT_EQ(transcript[0], "ping:!");
  EXPECT_EQ(transcript[1], "text:Hello");
  EXPECT_EQ(transcript[3], "close:\x03\xE9 code 1001 reason ");
  expect_split_invariant(wire, Role::Client);
  // A masked frame among them is a protocol error for a client.
  const Bytes bad = concat({frame(Opcode::Text, true, text("ok"), nullptr), frame(Opcode::Text, true, text("no"))});
  EXPECT_EQ(transcript_of(bad, Role::Client),
            (std::vector<std::string>{"text:ok", "error 1002 masked server frame"}));
}

// permessage-deflate (RFC 7692 §6): RSV1 on the first frame of a data message only.
TEST(MessageReaderDeflate, Rsv1MarksTheMessageCompressedAndSkipsUtf8) {
  Driver d(Role::Server);
  d.reader().allow_compression(true);
  const Bytes not_utf8 = {0xff, 0xfe, 0x00};  // deflate bytes are no text
  d.feed(concat({frame(Opcode::Text, false, not_utf8, kKey, 4), frame(Opcode::Continuation, true, {0xc0}),
                 frame(Opcode::Text, true, text("plain"))}));
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(d.messages[0], (Bytes{0xff, 0xfe, 0x00, 0xc0}));
  bool compressed_seen = false;
  for (const ReadEvent& ev : d.events) {
    if (ev.type != ReadEventType::Data) continue;
    if (ev.payload_size == 5) EXPECT_FALSE(ev.compressed);
    else compressed_seen = compressed_seen || ev.compressed;
  }
  EXPECT_TRUE(compressed_seen);
}

TEST(MessageReaderDeflate, Rsv1OnContinuationOrControlIsAProtocolError) {
  struct Case {
    Bytes wire;
    const char* reason;
  } cases[] = {
      {concat({frame(Opcode::Text, false, text("a"), kKey, 4), frame(Opcode::Continuation, true, text("b"), kKey, 4)}),
       "RSV1 set on a continuation frame"},
      {frame(Opcode::Ping, true, {}, kKey, 4), "RSV1 set on a control frame"},
      {frame(Opcode::Binary, true, text("x"), kKey, 2), "RSV bits set without extension"},
      {frame(Opcode::Binary, true, text("x"), kKey, 6), "RSV bits set without extension"},
  };
  for (const Case& c : cases) {
    Driver d(Role::Server);
    d.reader().allow_compression(true);
    d.feed(c.wire);
    ASSERT_FALSE(d.transcript.empty());
    EXPECT_EQ(d.transcript.back(), std::string("error 1002 ") + c.reason);
  }
  Driver off(Role::Server);
  off.feed(frame(Opcode::Text, true, text("x"), kKey, 4));
  EXPECT_EQ(off.transcript.back(), "error 1002 RSV bits set without extension");
}

}  // namespace
}  // namespace wsring::core
