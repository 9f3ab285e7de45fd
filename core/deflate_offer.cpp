#include "core/deflate_offer.hpp"

#include <algorithm>

#include "core/head_writer.hpp"

namespace wsring::core {
namespace {

constexpr std::string_view kExtensionName = "permessage-deflate";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The position of the first `sep` outside a quoted string, or npos.
size_t find_unquoted(std::string_view s, char sep) {
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (quoted && ch == '\\') {
      ++i;  // a quoted-pair: the next character is literal
    } else if (ch == '"') {
      quoted = !quoted;
    } else if (ch == sep && !quoted) {
      return i;
    }
  }
  return std::string_view::npos;
}

// A window-bits value: 1*DIGIT in 8..15, as a token or a quoted string. 0 when bad.
uint8_t window_bits_value(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
  if (value.empty() || value.size() > 2) return 0;
  unsigned bits = 0;
  for (const char ch : value) {
    if (ch < '0' || ch > '9') return 0;
    bits = bits * 10 + unsigned(ch - '0');
  }
  return bits >= 8 && bits <= 15 && value.front() != '0' ? uint8_t(bits) : 0;
}

OfferStatus apply_parameter(std::string_view name, std::string_view value, bool has_value, DeflateOffer& out,
                            unsigned& seen) {
  enum : unsigned { kServerNct = 1, kClientNct = 2, kServerBits = 4, kClientBits = 8 };
  unsigned bit;
  if (name == "server_no_context_takeover") {
    bit = kServerNct;
  } else if (name == "client_no_context_takeover") {
    bit = kClientNct;
  } else if (name == "server_max_window_bits") {
    bit = kServerBits;
  } else if (name == "client_max_window_bits") {
    bit = kClientBits;
  } else {
    return OfferStatus::UnknownParameter;
  }
  if (seen & bit) return OfferStatus::DuplicateParameter;
  seen |= bit;
  switch (bit) {
    case kServerNct:
      out.server_no_context_takeover = true;
      return has_value ? OfferStatus::BadValue : OfferStatus::Ok;
    case kClientNct:
      out.client_no_context_takeover = true;
      return has_value ? OfferStatus::BadValue : OfferStatus::Ok;
    case kServerBits:  // a value is required (§7.1.2.1)
      out.server_max_window_bits = has_value ? window_bits_value(value) : 0;
      return out.server_max_window_bits ? OfferStatus::Ok : OfferStatus::BadValue;
    default:  // client_max_window_bits: the value is optional (§7.1.2.2)
      out.client_max_window_bits = true;
      if (!has_value) return OfferStatus::Ok;
      out.client_max_window_bits_value = window_bits_value(value);
      return out.client_max_window_bits_value ? OfferStatus::Ok : OfferStatus::BadValue;
  }
}

// Decides one parsed offer against the policy; false when the server cannot honour it.
bool accept_offer(const DeflateOffer& offer, const DeflatePolicy& policy, DeflateAgreement& agreed) {
  const uint8_t own_bits = std::clamp(policy.window_bits, kMinWindowBits, kMaxWindowBits);
  // A client that demands a 256-byte window gets none: see kMinWindowBits.
  if (offer.server_max_window_bits != 0 && offer.server_max_window_bits < kMinWindowBits) return false;
  agreed = DeflateAgreement{};
  agreed.server_no_context_takeover = policy.no_context_takeover || offer.server_no_context_takeover;
  agreed.client_no_context_takeover = policy.no_context_takeover || offer.client_no_context_takeover;
  const uint8_t server_cap = offer.server_max_window_bits ? offer.server_max_window_bits : kMaxWindowBits;
  agreed.server_window_bits = std::min(own_bits, server_cap);
  agreed.state_server_window = offer.server_max_window_bits != 0 || agreed.server_window_bits < kMaxWindowBits;
  if (offer.client_max_window_bits) {
    // The client may be asked for a smaller window (less memory to inflate with), never for
    // one larger than its own hint.
    const uint8_t hint = offer.client_max_window_bits_value ? offer.client_max_window_bits_value : kMaxWindowBits;
    agreed.client_window_bits = std::min(own_bits, hint);
    agreed.state_client_window = agreed.client_window_bits < kMaxWindowBits || offer.client_max_window_bits_value;
  }
  return true;
}

}  // namespace

OfferStatus parse_deflate_offer(std::string_view params, DeflateOffer& out) {
  out = DeflateOffer{};
  unsigned seen = 0;
  params = trim(params);
  while (!params.empty()) {
    if (params.front() != ';') return OfferStatus::BadValue;
    params.remove_prefix(1);
    const size_t end = find_unquoted(params, ';');
    const std::string_view parameter = trim(params.substr(0, end));
    params = end == std::string_view::npos ? std::string_view() : params.substr(end);
    const size_t equals = parameter.find('=');
    const std::string_view name = trim(parameter.substr(0, equals));
    const bool has_value = equals != std::string_view::npos;
    const std::string_view value = has_value ? trim(parameter.substr(equals + 1)) : std::string_view();
    if (name.empty()) return OfferStatus::BadValue;
    const OfferStatus status = apply_parameter(name, value, has_value, out, seen);
    if (status != OfferStatus::Ok) return status;
  }
  return OfferStatus::Ok;
}

DeflateNegotiation negotiate_deflate(std::span<const HttpHeader> headers, const DeflatePolicy& policy) {
  DeflateNegotiation result;
  for (const HttpHeader& header : headers) {
    if (!ascii_iequals(header.name, "Sec-WebSocket-Extensions")) continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      const size_t comma = find_unquoted(rest, ',');
      const std::string_view element = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t semicolon = element.find(';');
      if (!ascii_iequals(trim(element.substr(0, semicolon)), kExtensionName)) continue;
      result.offered = true;
      DeflateOffer offer;
      const std::string_view params = semicolon == std::string_view::npos ? "" : element.substr(semicolon);
      if (parse_deflate_offer(params, offer) != OfferStatus::Ok) continue;
      if (accept_offer(offer, policy, result.agreement)) {
        result.accepted = true;
        return result;
      }
    }
  }
  return result;
}

bool parse_deflate_response(std::string_view value, DeflateOffer& out) {
  value = trim(value);
  if (find_unquoted(value, ',') != std::string_view::npos) return false;
  const size_t semicolon = value.find(';');
  if (!ascii_iequals(trim(value.substr(0, semicolon)), kExtensionName)) return false;
  const std::string_view params = semicolon == std::string_view::npos ? "" : value.substr(semicolon);
  return parse_deflate_offer(params, out) == OfferStatus::Ok;
}

size_t write_deflate_response(std::span<char> dst, const DeflateAgreement& agreement) {
  HeadWriter out(dst);
  out.raw(kExtensionName);
  if (agreement.server_no_context_takeover) out.raw("; server_no_context_takeover");
  if (agreement.client_no_context_takeover) out.raw("; client_no_context_takeover");
  if (agreement.state_server_window) {
    out.raw("; server_max_window_bits=");
    out.number(agreement.server_window_bits);
  }
  if (agreement.state_client_window) {
    out.raw("; client_max_window_bits=");
    out.number(agreement.client_window_bits);
  }
  return out.finish();
}

bool echo_can_pass_through(const DeflateAgreement& agreement) {
  if (agreement.server_no_context_takeover != agreement.client_no_context_takeover) return false;
  const uint8_t client_deflates_with = std::max(agreement.client_window_bits, kMinWindowBits);
  const uint8_t client_inflates_with = agreement.state_server_window ? agreement.server_window_bits : kMaxWindowBits;
  return client_deflates_with <= client_inflates_with;
}

}  // namespace wsring::core
