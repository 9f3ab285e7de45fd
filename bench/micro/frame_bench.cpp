// Framing micro-benchmarks: header decoding, unmasking, UTF-8 validation and the whole receive
// path over many small frames (the echo server's hot loop).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/frame.hpp"
#include "core/message_reader.hpp"
#include "core/unmask.hpp"
#include "core/utf8.hpp"

namespace {

using namespace wsring::core;

const uint8_t kKey[4] = {0x12, 0x34, 0x56, 0x78};

// 64 masked client headers of the three length encodings, back to back (no payloads).
std::vector<uint8_t> header_stream(size_t* count) {
  std::vector<uint8_t> out;
  const uint64_t lengths[] = {20, 125, 300, 70000};
  *count = 0;
  for (int i = 0; i < 64; ++i) {
    uint8_t header[kMaxFrameHeaderSize];
    const size_t size = write_frame_header(header, i % 5 == 0 ? Opcode::Binary : Opcode::Text, true,
                                           lengths[i % 4], kKey);
    out.insert(out.end(), header, header + size);
    ++*count;
  }
  return out;
}

// The zero-copy path MessageReader takes when a whole header is in the input.
void BM_ParseFrameHeader(benchmark::State& state) {
  size_t count = 0;
  const std::vector<uint8_t> stream = header_stream(&count);
  FrameHeader header;
  for (auto _ : state) {
    size_t pos = 0;
    uint64_t total = 0;
    while (pos < stream.size()) {
      pos += parse_frame_header(stream.data() + pos, stream.size() - pos, header);
      total += header.payload_length;
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
}
BENCHMARK(BM_ParseFrameHeader);

void BM_Unmask(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> data(size + 1, 0x5A);
  for (auto _ : state) {
    apply_mask(data.data() + 1, size, kKey, 1);  // misaligned start, odd phase: the general case
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.SetLabel(mask_implementation());
}
BENCHMARK(BM_Unmask)->Arg(16)->Arg(1024)->Arg(65536);

void run_utf8(benchmark::State& state, const std::vector<uint8_t>& text) {
  if (!is_valid_utf8(text.data(), text.size())) state.SkipWithError("benchmark input is not valid UTF-8");
  for (auto _ : state) {
    Utf8Validator validator;
    bool ok = validator.feed(text.data(), text.size());
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_Utf8Ascii64K(benchmark::State& state) {
  std::vector<uint8_t> text(65536);
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>(' ' + i % 95);
  run_utf8(state, text);
}
BENCHMARK(BM_Utf8Ascii64K);

// Multilingual chat-like text: ASCII, Greek, CJK, emoji; about 70% of the bytes are in
// multi-byte sequences.
void BM_Utf8Mixed64K(benchmark::State& state) {
  const std::string sample =
      "Hello, κόσμε! 你好，世界。Привет, мир! 🌍🚀 WebSocket über alles — ça marche. こんにちは ";
  std::vector<uint8_t> text;
  while (text.size() + sample.size() <= 65536) text.insert(text.end(), sample.begin(), sample.end());
  while (text.size() < 65536) text.push_back('.');
  run_utf8(state, text);
}
BENCHMARK(BM_Utf8Mixed64K);

// 100 masked 20-byte text frames in one buffer, read as a server reads a receive buffer. The
// reader unmasks in place; the key and payload are ASCII, so the buffer stays valid text whether
// masked or not and need not be restored between iterations.
void BM_ReaderSmallFrames(benchmark::State& state) {
  constexpr int kFrames = 100;
  std::vector<uint8_t> buffer;
  for (int i = 0; i < kFrames; ++i) {
    uint8_t frame[6 + 20];
    const size_t header = write_frame_header(frame, Opcode::Text, true, 20, kKey);
    std::memcpy(frame + header, "abcdefghijklmnopqrst", 20);
    apply_mask(frame + header, 20, kKey, 0);
    buffer.insert(buffer.end(), frame, frame + header + 20);
  }
  for (auto _ : state) {
    MessageReader reader(Role::Server);
    size_t pos = 0;
    size_t payload = 0;
    for (;;) {
      const ReadEvent ev = reader.next(buffer.data() + pos, buffer.size() - pos);
      if (ev.type != ReadEventType::Data) {
        if (ev.type == ReadEventType::Error) state.SkipWithError(ev.error_reason);
        break;
      }
      payload += ev.payload_size;
      pos += ev.consumed;
    }
    benchmark::DoNotOptimize(payload);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFrames));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buffer.size()));
}
BENCHMARK(BM_ReaderSmallFrames);

}  // namespace
