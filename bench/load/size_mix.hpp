// Message sizes and types for wsring-load: a size distribution (`--size`) and the share of text
// messages (`--text-ratio`), drawn per message from one cheap generator per worker.
//
// --size forms:
//   64                  every message 64 bytes
//   64-1024             uniform over 64..1024 (inclusive)
//   64:80,1024:15,64K:5 weighted list: 80 parts 64 B, 15 parts 1024 B, 5 parts 64 KiB; an item
//                       may be a range (64-128:50), drawn uniformly inside once chosen
// Weights are whole numbers (parts, not percent: they need not add up to 100).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::load {

class SizeMix {
 public:
  struct Item {
    uint64_t min = 0, max = 0;  // inclusive
    uint64_t weight = 1;
  };

  SizeMix() { items_.push_back(Item{32, 32, 1}); cumulative_.push_back(1); }

  // Parses a --size value; sizes must lie in [lowest, highest]. False with `error` set (one line,
  // without the flag's name) and the mix unchanged.
  bool parse(std::string_view text, uint64_t lowest, uint64_t highest, std::string& error);

  uint64_t min() const;
  uint64_t max() const;
  bool fixed() const { return min() == max(); }
  const std::vector<Item>& items() const { return items_; }
  std::string text() const;  // "32 B", "16-1024 B", "64 B:80, 1024 B:15"

  // The size for one message, from two 64-bit random numbers (the first picks the item, the
  // second the size inside a range).
  uint64_t pick(uint64_t random_item, uint64_t random_size) const;

 private:
  std::vector<Item> items_;
  std::vector<uint64_t> cumulative_;  // running sums of the weights
};

// The share of text messages: --text-ratio R (0 to 1). draw(r) says whether a message whose
// random number is r is text; exactly R of 2^32 equally likely values are.
struct TextRatio {
  uint32_t threshold = 0;  // text if (r >> 32) < threshold; all text at 1.0 (see all_text)
  bool all_text = false;
  static bool parse(std::string_view text, double& ratio, std::string& error);
  static TextRatio from(double ratio);
  bool draw(uint64_t random) const { return all_text || uint32_t(random >> 32) < threshold; }
};

// xorshift64*: a cheap, decent generator for sizes and types (never for masks).
inline uint64_t next_random(uint64_t& state) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

}  // namespace wsring::load
