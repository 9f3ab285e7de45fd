#include "bench/load/size_mix.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "server/cli_values.hpp"

namespace wsring::load {
namespace {

constexpr size_t kMaxItems = 64;
constexpr uint64_t kMaxWeight = 1'000'000;

bool parse_range(std::string_view text, SizeMix::Item& item) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!cli::parse_size(text, item.min)) return false;
    item.max = item.min;
    return true;
  }
  return cli::parse_size(text.substr(0, dash), item.min) && cli::parse_size(text.substr(dash + 1), item.max);
}

}  // namespace

bool SizeMix::parse(std::string_view text, uint64_t lowest, uint64_t highest, std::string& error) {
  std::vector<Item> items;
  const bool weighted = text.find(':') != std::string_view::npos || text.find(',') != std::string_view::npos;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string_view part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    Item item;
    std::string_view range = part;
    if (weighted) {
      const size_t colon = part.find(':');
      if (colon == std::string_view::npos) {
        error = "each item of a weighted list needs a weight, SIZE:WEIGHT (e.g. 64:80,1024:20), got " + cli::quoted(part);
        return false;
      }
      range = part.substr(0, colon);
      if (!cli::parse_count(part.substr(colon + 1), item.weight) || item.weight == 0 || item.weight > kMaxWeight) {
        error = "a weight is a whole number from 1 to 1000000, got " + cli::quoted(part.substr(colon + 1));
        return false;
      }
    }
    if (!parse_range(range, item)) {
      error = std::string("expected SIZE, MIN-MAX or SIZE:WEIGHT,... (") + cli::kSizeForms + "), got " + cli::quoted(range);
      return false;
    }
    if (item.max < item.min) {
      error = "the range's maximum is below its minimum in " + cli::quoted(range);
      return false;
    }
    if (item.min < lowest || item.max > highest) {
      error = "sizes from " + cli::format_size(lowest) + " to " + cli::format_size(highest) + ", got " + cli::quoted(range);
      return false;
    }
    if (items.size() == kMaxItems) {
      error = "at most " + std::to_string(kMaxItems) + " items in a weighted list";
      return false;
    }
    items.push_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  items_ = std::move(items);
  cumulative_.clear();
  uint64_t sum = 0;
  for (const Item& i : items_) cumulative_.push_back(sum += i.weight);
  return true;
}

uint64_t SizeMix::min() const {
  uint64_t m = items_[0].min;
  for (const Item& i : items_) m = std::min(m, i.min);
  return m;
}

uint64_t SizeMix::max() const {
  uint64_t m = items_[0].max;
  for (const Item& i : items_) m = std::max(m, i.max);
  return m;
}

std::string SizeMix::text() const {
  auto range = [](const Item& i) {
    return i.min == i.max ? std::to_string(i.min) + " B" : std::to_string(i.min) + "-" + std::to_string(i.max) + " B";
  };
  if (items_.size() == 1) return range(items_[0]);
  std::string out;
  for (const Item& i : items_) out += (out.empty() ? "" : ", ") + range(i) + ":" + std::to_string(i.weight);
  return out;
}

uint64_t SizeMix::pick(uint64_t random_item, uint64_t random_size) const {
  size_t k = 0;
  if (items_.size() > 1) {
    const uint64_t point = random_item % cumulative_.back();
    while (cumulative_[k] <= point) ++k;  // at most 64 items: a scan beats a search
  }
  const Item& item = items_[k];
  if (item.max == item.min) return item.min;
  return item.min + random_size % (item.max - item.min + 1);
}

bool TextRatio::parse(std::string_view text, double& ratio, std::string& error) {
  std::string s(text);
  char* end = nullptr;
  const double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.') || end != s.c_str() + s.size() ||
      !(v >= 0 && v <= 1)) {
    error = "expected the share of text messages, a number from 0 to 1 (e.g. 0.25), got " + cli::quoted(text);
    return false;
  }
  ratio = v;
  return true;
}

TextRatio TextRatio::from(double ratio) {
  TextRatio r;
  r.all_text = ratio >= 1;
  r.threshold = r.all_text ? 0 : uint32_t(std::llround(ratio * 4294967296.0));
  return r;
}

}  // namespace wsring::load
