// Appends the pieces of an HTTP head into a fixed caller buffer. The first piece that does not
// fit marks the writer as overflowed; finish() then returns 0, so callers write unconditionally
// and check once.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>

namespace wsring::core {

class HeadWriter {
 public:
  explicit HeadWriter(std::span<char> dst) : dst_(dst) {}

  void raw(std::string_view text) {
    if (char* place = reserve(text.size())) {
      if (!text.empty()) std::memcpy(place, text.data(), text.size());
    }
  }

  // Copies text with every control byte (CR, LF, NUL, DEL, ...) replaced by a space: untrusted
  // or configured strings then cannot end a header line early and inject their own.
  void neutralised(std::string_view text) {
    char* place = reserve(text.size());
    if (place == nullptr) return;
    for (size_t i = 0; i < text.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      place[i] = (c < 0x20 || c == 0x7F) ? ' ' : text[i];
    }
  }

  void number(size_t value) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;  // cannot fail: 24 digits hold any size_t
    raw(std::string_view(digits, static_cast<size_t>(end - digits)));
  }

  // Claims n bytes for the caller to fill; nullptr once anything has failed to fit.
  char* reserve(size_t n) {
    if (overflowed_ || n > dst_.size() - used_) {
      overflowed_ = true;
      return nullptr;
    }
    char* place = dst_.data() + used_;
    used_ += n;
    return place;
  }

  size_t finish() const { return overflowed_ ? 0 : used_; }

 private:
  std::span<char> dst_;
  size_t used_ = 0;
  bool overflowed_ = false;
};

}  // namespace wsring::core
