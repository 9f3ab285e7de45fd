#include "bench/load/hdr_log.hpp"

#include <time.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>

namespace wsring::load {
namespace {

constexpr size_t kV2HeaderSize = 40;
constexpr int32_t kCookieBaseMask = ~0xf0;  // the low nibble of the second byte holds flags

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += char((v >> shift) & 0xff);
}

void put_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += char((v >> shift) & 0xff);
}

uint32_t get_be32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | uint8_t(in[at + i]);
  return v;
}

uint64_t get_be64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | uint8_t(in[at + i]);
  return v;
}

// ZigZag, then LEB128 of at most 9 bytes (the ninth carries 8 bits), as HdrHistogram writes it.
void put_zigzag(std::string& out, int64_t value) {
  uint64_t v = (uint64_t(value) << 1) ^ uint64_t(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((v >> 7) == 0) {
      out += char(v);
      return;
    }
    out += char((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += char(v);
}

bool get_zigzag(std::string_view in, size_t& at, int64_t& value) {
  uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (at >= in.size()) return false;
    const uint8_t b = uint8_t(in[at++]);
    if (i == 8) {
      v |= uint64_t(b) << 56;
      break;
    }
    v |= uint64_t(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) break;
  }
  value = int64_t(v >> 1) ^ -int64_t(v & 1);
  return true;
}

bool fail(std::string* error, const std::string& why) {
  if (error) *error = why;
  return false;
}

bool inflate_all(std::string_view in, std::string& out, size_t limit) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  out.clear();
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > limit) rc = Z_MEM_ERROR;
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) rc = Z_BUF_ERROR;  // truncated
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END;
}

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

void append_hdr_counts(const LatencyHistogram& h, std::string& out) {
  size_t limit = 0;  // one past the highest non-zero count (at least one count, as HdrHistogram)
  for (size_t i = LatencyHistogram::kBucketCount; i-- > 0;)
    if (h.bucket_count(i)) {
      limit = i + 1;
      break;
    }
  if (limit == 0) limit = 1;
  for (size_t i = 0; i < limit;) {
    const uint64_t count = h.bucket_count(i++);
    if (count != 0) {
      put_zigzag(out, int64_t(count));
      continue;
    }
    int64_t zeros = 1;
    while (i < limit && h.bucket_count(i) == 0) ++zeros, ++i;
    put_zigzag(out, zeros > 1 ? -zeros : 0);
  }
}

bool add_hdr_counts(std::string_view payload, LatencyHistogram& into, std::string* error) {
  size_t at = 0;
  uint64_t index = 0;
  while (at < payload.size()) {
    int64_t value = 0;
    if (!get_zigzag(payload, at, value)) return fail(error, "truncated count");
    if (value < 0) {
      if (value == INT64_MIN || index - value > LatencyHistogram::kBucketCount) return fail(error, "zero run past the end");
      index += uint64_t(-value);
      continue;
    }
    if (index >= LatencyHistogram::kBucketCount) return fail(error, "count past the highest trackable value");
    into.add_bucket_count(size_t(index++), uint64_t(value));
  }
  return true;
}

std::string encode_hdr_v2(const LatencyHistogram& h) {
  std::string out;
  put_be32(out, uint32_t(kHdrV2Cookie));
  put_be32(out, 0);  // payload length, filled in below
  put_be32(out, 0);  // normalizing index offset
  put_be32(out, uint32_t(LatencyHistogram::kSignificantDigits));
  put_be64(out, 1);  // lowest discernible value
  put_be64(out, LatencyHistogram::kMaxTrackable);
  double ratio = 1.0;
  uint64_t ratio_bits;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio_bits);
  put_be64(out, ratio_bits);
  append_hdr_counts(h, out);
  const uint32_t payload = uint32_t(out.size() - kV2HeaderSize);
  for (int i = 0; i < 4; ++i) out[4 + i] = char((payload >> (24 - 8 * i)) & 0xff);
  return out;
}

std::string encode_hdr_compressed(const LatencyHistogram& h) {
  const std::string plain = encode_hdr_v2(h);
  uLongf size = compressBound(uLong(plain.size()));
  std::string out(8 + size, '\0');
  compress2(reinterpret_cast<Bytef*>(&out[8]), &size, reinterpret_cast<const Bytef*>(plain.data()), uLong(plain.size()),
            Z_DEFAULT_COMPRESSION);
  out.resize(8 + size);
  std::string head;
  put_be32(head, uint32_t(kHdrV2CompressedCookie));
  put_be32(head, uint32_t(size));
  out.replace(0, 8, head);
  return out;
}

bool decode_hdr(std::string_view bytes, LatencyHistogram& into, std::string* error) {
  if (bytes.size() < 8) return fail(error, "histogram shorter than its header");
  const int32_t cookie = int32_t(get_be32(bytes, 0));
  std::string inflated;
  if ((cookie & kCookieBaseMask) == (kHdrV2CompressedCookie & kCookieBaseMask)) {
    const uint32_t length = get_be32(bytes, 4);
    if (length > bytes.size() - 8) return fail(error, "compressed histogram truncated");
    const size_t limit = kV2HeaderSize + 10 * LatencyHistogram::kBucketCount;
    if (!inflate_all(bytes.substr(8, length), inflated, limit)) return fail(error, "bad DEFLATE data in the histogram");
    bytes = inflated;
  }
  if (bytes.size() < kV2HeaderSize) return fail(error, "histogram shorter than its header");
  if ((int32_t(get_be32(bytes, 0)) & kCookieBaseMask) != (kHdrV2Cookie & kCookieBaseMask))
    return fail(error, "not an HdrHistogram V2 encoding (cookie)");
  const uint32_t payload = get_be32(bytes, 4);
  if (payload > bytes.size() - kV2HeaderSize) return fail(error, "histogram payload truncated");
  if (get_be32(bytes, 8) != 0) return fail(error, "a normalizing index offset (shifted histogram) is not supported");
  const uint32_t digits = get_be32(bytes, 12);
  if (digits != uint32_t(LatencyHistogram::kSignificantDigits))
    return fail(error, std::to_string(digits) + " significant digits (only 3 are read)");
  if (get_be64(bytes, 16) != 1) return fail(error, "lowest discernible value other than 1 is not supported");
  return add_hdr_counts(bytes.substr(kV2HeaderSize, payload), into, error);
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) v |= uint8_t(bytes[i + 2]);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kBase64[v & 63] : '=';
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : text) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return false;  // data after padding
    const char* p = c ? std::strchr(kBase64, c) : nullptr;
    if (!p) return false;
    acc = (acc << 6) | uint32_t(p - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return pad <= 2 && (text.size() % 4 == 0 || pad == 0);
}

std::string hdr_log_header(double start_unix_s) {
  const time_t whole = time_t(start_unix_s);
  tm utc{};
  gmtime_r(&whole, &utc);
  char date[64];
  strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &utc);
  char text[1024];
  snprintf(text, sizeof text,
           "#[Histogram log format version 1.3]\n#[StartTime: %.3f (seconds since epoch), %s]\n"
           "#[BaseTime: %.3f (seconds since epoch)]\n"
           "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
           start_unix_s, date, start_unix_s);
  return text;
}

std::string hdr_log_line(const std::string& tag, double start_s, double length_s, const LatencyHistogram& h) {
  char head[128];
  snprintf(head, sizeof head, "%.3f,%.3f,%.3f,", start_s, length_s, double(h.max()) / kHdrLogMaxUnitRatio);
  return (tag.empty() ? std::string() : "Tag=" + tag + ",") + head + base64_encode(encode_hdr_compressed(h)) + "\n";
}

namespace {

bool parse_double(std::string_view text, double& out) {
  std::string s(text);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && std::isfinite(out);
}

// "#[Name: 123.456 ...]" -> 123.456
bool header_seconds(std::string_view line, std::string_view name, double& out) {
  if (line.substr(0, name.size()) != name) return false;
  std::string_view rest = line.substr(name.size());
  const size_t end = rest.find_first_of(" ]");
  return parse_double(rest.substr(0, end), out);
}

}  // namespace

bool parse_hdr_log(std::string_view text, HdrLog& out, std::string* error) {
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto bad = [&](const std::string& why) { return fail(error, "line " + std::to_string(line_no) + ": " + why); };
    if (line.empty() || line.front() == '"') continue;
    if (line.front() == '#') {
      if (line.substr(0, 13) == "#[StartTime: " && !header_seconds(line, "#[StartTime: ", out.start_time_s))
        return bad("unreadable StartTime");
      if (line.substr(0, 12) == "#[BaseTime: " && !header_seconds(line, "#[BaseTime: ", out.base_time_s))
        return bad("unreadable BaseTime");
      continue;
    }
    HdrLogInterval interval;
    if (line.substr(0, 4) == "Tag=") {
      const size_t comma = line.find(',');
      if (comma == std::string_view::npos) return bad("a tag without an interval");
      interval.tag = std::string(line.substr(4, comma - 4));
      line = line.substr(comma + 1);
    }
    std::string_view fields[4];
    for (int f = 0; f < 3; ++f) {
      const size_t comma = line.find(',');
      if (comma == std::string_view::npos) return bad("expected start,length,max,histogram");
      fields[f] = line.substr(0, comma);
      line = line.substr(comma + 1);
    }
    fields[3] = line;
    if (!parse_double(fields[0], interval.start_s) || !parse_double(fields[1], interval.length_s) ||
        !parse_double(fields[2], interval.max_ms))
      return bad("expected numbers for start, length and max");
    if (!base64_decode(fields[3], interval.encoded)) return bad("the histogram is not base64");
    out.intervals.push_back(std::move(interval));
  }
  return true;
}

}  // namespace wsring::load
