// Fuzzes MessageReader: the input after its first byte is a byte stream, fed (1) in two pieces
// split at a point chosen by the first byte and (2) byte by byte. Both must give the same
// chunking-independent event sequence (whole messages, control frames, the error), and every
// event must respect the API's invariants. Runs the server and the client role.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/message_reader.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace wsring::core;

using wsring::fuzz::fail;
using wsring::fuzz::check;

struct Item {
  char kind;  // 'm' message, 'c' control, 'e' error
  uint8_t opcode;
  uint16_t code;
  std::string bytes;
  bool operator==(const Item&) const = default;
};

class Recorder {
 public:
  explicit Recorder(Role role) : reader_(role, ReaderLimits{300}) {}

  void feed(const uint8_t* piece, size_t size) {
    // Own copy: the reader modifies its input, and control payloads may point into it.
    inputs_.emplace_back(piece, piece + size);
    std::vector<uint8_t>& input = inputs_.back();
    size_t pos = 0;
    while (!done_) {
      uint8_t* data = input.data() + pos;
      const size_t left = input.size() - pos;
      const ReadEvent ev = reader_.next(data, left);
      check(ev.consumed <= left, "consumed more than given");
      if (ev.type == ReadEventType::NeedMore) {
        check(ev.consumed == left, "NeedMore did not consume everything");
        return;
      }
      if (ev.type == ReadEventType::Error) {
        check(ev.error_code == 1002 || ev.error_code == 1007 || ev.error_code == 1009, "unexpected error code");
        check(ev.error_reason != nullptr, "error without reason");
        check(reader_.finished(), "not finished after error");
        items.push_back({'e', 0, ev.error_code, ev.error_reason});
        done_ = true;
        break;
      }
      check(ev.consumed > 0, "event consumed nothing");
      if (ev.type == ReadEventType::Data) {
        on_data(ev, data);
      } else {
        on_control(ev, data);
      }
      pos += ev.consumed;
    }
    const ReadEvent again = reader_.next(input.data(), input.size());
    check(again.type == ReadEventType::Error, "finished reader returned something other than Error");
  }

  std::vector<Item> items;

 private:
  void on_data(const ReadEvent& ev, uint8_t* data) {
    check(ev.message_opcode == Opcode::Text || ev.message_opcode == Opcode::Binary, "bad message opcode");
    check(ev.payload >= data && ev.payload + ev.payload_size == data + ev.consumed, "chunk outside input");
    check(ev.message_end == (ev.frame_end && ev.frame_fin), "message_end inconsistent");
    check(ev.frame_start == (frame_bytes_ == 0), "frame_start inconsistent");
    check(ev.frame_payload_length == 0 ? ev.payload_size == 0 && ev.frame_start && ev.frame_end
                                       : ev.payload_size > 0,
          "empty chunk for a non-empty frame");
    if (ev.frame_start) {
      check((ev.frame_opcode == Opcode::Continuation) == in_message_, "continuation flag inconsistent");
      if (!in_message_) opcode_ = ev.message_opcode;
      in_message_ = true;
    }
    check(ev.message_opcode == opcode_, "message opcode changed inside a message");
    message_.append(ev.payload, ev.payload + ev.payload_size);
    check(message_.size() <= 300, "message larger than the limit");
    frame_bytes_ += ev.payload_size;
    check(ev.frame_end == (frame_bytes_ == ev.frame_payload_length), "frame_end inconsistent");
    if (ev.frame_end) frame_bytes_ = 0;
    check(reader_.in_message() == !ev.message_end, "in_message inconsistent");
    if (ev.message_end) {
      items.push_back({'m', static_cast<uint8_t>(opcode_), 0, message_});
      message_.clear();
      in_message_ = false;
    }
  }

  void on_control(const ReadEvent& ev, uint8_t* data) {
    check(is_control(ev.control_opcode), "control event for a data opcode");
    check(ev.payload_size <= kMaxControlPayload, "control payload too long");
    if (ev.control_in_input) {
      check(ev.payload >= data && ev.payload + ev.payload_size == data + ev.consumed, "control outside input");
    }
    std::string bytes(ev.payload, ev.payload + ev.payload_size);
    uint16_t code = 0;
    if (ev.control_opcode == Opcode::Close) {
      code = ev.close.code;
      check(code == close_code::no_status ? ev.payload_size == 0 : is_valid_close_code(code), "bad close code");
      check(is_valid_utf8(reinterpret_cast<const uint8_t*>(ev.close.reason.data()), ev.close.reason.size()),
            "close reason is not UTF-8");
      check(reader_.finished(), "not finished after close");
      bytes += "|" + std::string(ev.close.reason);
      done_ = true;
    }
    items.push_back({'c', static_cast<uint8_t>(ev.control_opcode), code, bytes});
  }

  MessageReader reader_;
  std::vector<std::vector<uint8_t>> inputs_;
  bool done_ = false;
  bool in_message_ = false;
  Opcode opcode_ = Opcode::Text;
  std::string message_;
  uint64_t frame_bytes_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* stream = data + 1;
  const size_t length = size - 1;
  const size_t split = length * data[0] / 255;  // 0 .. length
  for (Role role : {Role::Server, Role::Client}) {
    Recorder two(role);
    two.feed(stream, split);
    two.feed(stream + split, length - split);

    Recorder single(role);
    for (size_t i = 0; i < length; ++i) single.feed(stream + i, 1);

    Recorder whole(role);
    whole.feed(stream, length);

    check(two.items == single.items, "two pieces and byte by byte disagree");
    check(whole.items == single.items, "whole and byte by byte disagree");
  }
  return 0;
}
