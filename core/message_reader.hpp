// The receive state machine (RFC 6455 §5.4-5.6, §8.1): turns a byte stream into data chunks,
// control frames and precise protocol errors. Sans-I/O and zero-copy: payloads are unmasked in
// place in the caller's buffer and reported by pointer, so a server can echo them without copying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/buffer_pool.hpp"
#include "core/close.hpp"
#include "core/frame.hpp"
#include "core/utf8.hpp"

namespace wsring::core {

enum class Role : uint8_t { Server, Client };  // Server: incoming frames must be masked; Client: must not be

struct ReaderLimits {
  uint64_t max_message_size = 16u << 20;
};

enum class ReadEventType : uint8_t { NeedMore, Data, Control, Error };

struct ReadEvent {
  ReadEventType type = ReadEventType::NeedMore;
  size_t consumed = 0;  // input bytes this event used up (header bytes included); caller advances by it

  // Data: one contiguous chunk of one data frame's payload, already unmasked, inside the input.
  // The bytes between the start of the input and `payload` are this frame's header (if it lay in
  // this input), so a sender may overwrite them with its own header.
  Opcode message_opcode = Opcode::Text;  // Text or Binary: the MESSAGE's type (also for continuation frames)
  Opcode frame_opcode = Opcode::Text;    // the frame's own opcode (Text, Binary or Continuation)
  bool frame_start = false;              // chunk begins this frame's payload
  bool frame_end = false;                // chunk ends this frame's payload
  bool frame_fin = false;                // the frame's FIN bit
  bool message_end = false;              // frame_end && frame_fin
  // The message is compressed (permessage-deflate: RSV1 on its first frame). Its payload is
  // deflate data, not yet validated as UTF-8: the inflating side does that.
  bool compressed = false;
  uint8_t* payload = nullptr;
  size_t payload_size = 0;
  uint64_t frame_payload_length = 0;  // the frame's whole payload length (from its header)

  // Control: a complete control frame (Ping, Pong or Close), payload unmasked. payload points into
  // the input when the frame (header and payload) lay wholly in it (control_in_input = true), else
  // into the reader's buffer, valid until the next call to next().
  Opcode control_opcode = Opcode::Ping;
  bool control_in_input = false;
  CloseInfo close;  // for Close: the parsed, already VALIDATED code and reason

  // Error: the connection must be failed with this close code (1002, 1007, 1009) and reason text.
  uint16_t error_code = 0;
  const char* error_reason = nullptr;
};

// One reader per connection, so its size is memory per idle connection: it keeps only what a
// frame in progress needs (about 100 bytes). The rare control frame split across two inputs is
// gathered in a buffer taken from control_pool (any BufferPool with buffers of >= 125 bytes) for
// just that long; without a pool the reader allocates that buffer itself, once.
class MessageReader {
 public:
  explicit MessageReader(Role role, ReaderLimits limits = {}, BufferPool* control_pool = nullptr)
      : limits_(limits), control_pool_(control_pool), role_(role) {}
  ~MessageReader() { release_control_buffer(); }
  MessageReader(const MessageReader&) = delete;
  MessageReader& operator=(const MessageReader&) = delete;
  MessageReader(MessageReader&& other) noexcept { *this = std::move(other); }
  MessageReader& operator=(MessageReader&& other) noexcept;

  // Processes input from the start of [data, data+size) and returns the next event. The caller
  // advances by ev.consumed and calls again with the rest; NeedMore means all input was consumed
  // (ev.consumed == size) and more is needed. After an Error or a Close event every later call
  // returns Error again (the reader is finished). May modify the input (unmasking).
  ReadEvent next(uint8_t* data, size_t size);

  // A data message has begun (its first frame header was read) and its last payload byte has not
  // yet been delivered; in particular, true between the fragments of a fragmented message.
  bool in_message() const { return in_message_; }
  // An Error or Close event has been returned; every later next() returns Error.
  bool finished() const { return phase_ == Phase::Finished; }
  // A control frame has begun and its payload is not complete yet (it holds a gather buffer).
  bool control_partial() const { return phase_ == Phase::ControlPayload; }
  void set_limits(ReaderLimits limits) { limits_ = limits; }
  // permessage-deflate was agreed: RSV1 on the first frame of a data message marks it compressed
  // (RFC 7692 §6). RSV1 on a continuation or control frame, or without this, is a protocol error.
  void allow_compression(bool allowed) { rsv1_allowed_ = allowed; }
  bool compression_allowed() const { return rsv1_allowed_; }
  const ReaderLimits& limits() const { return limits_; }
  Role role() const { return role_; }

 private:
  enum class Phase : uint8_t { Header, DataPayload, ControlPayload, Finished };

  ReadEvent begin_frame(uint8_t* data, size_t size, size_t pos);
  ReadEvent data_chunk(uint8_t* data, size_t size, size_t pos);
  ReadEvent continue_control(uint8_t* data, size_t size);
  ReadEvent control_event(uint8_t* payload, bool in_input, size_t consumed);
  ReadEvent fail(uint16_t code, const char* reason, size_t consumed);
  const char* check_rsv() const;
  ReadEvent need_more(size_t size) const;

  bool acquire_control_buffer();
  void release_control_buffer();

  // Ordered by size, to pack.
  FrameHeader frame_;              // the current frame's header
  uint64_t frame_delivered_ = 0;   // payload bytes of the current frame already handled
  uint64_t message_size_ = 0;      // sum of the payload lengths of the message's frames so far
  ReaderLimits limits_;
  BufferPool* control_pool_ = nullptr;
  uint8_t* control_buffer_ = nullptr;  // only while a split control frame is gathered
  const char* final_reason_ = nullptr; // what every call returns once finished
  uint16_t final_code_ = 0;
  uint8_t header_bytes_[kMaxFrameHeaderSize] = {};  // a header that straddles two inputs
  uint8_t header_have_ = 0;
  uint8_t control_size_ = 0;       // bytes of a straddling control payload gathered so far
  uint8_t utf8_state_ = Utf8Validator::kAccept;
  Role role_;
  Phase phase_ = Phase::Header;
  Opcode message_opcode_ = Opcode::Text;
  // One byte of flags: the reader's size is memory per idle connection.
  bool in_message_ : 1 = false;
  bool control_buffer_owned_ : 1 = false;  // allocated here (no pool), not borrowed
  bool rsv1_allowed_ : 1 = false;          // permessage-deflate agreed
  bool message_compressed_ : 1 = false;    // the current message had RSV1 on its first frame
};

}  // namespace wsring::core
