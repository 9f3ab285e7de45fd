#include "core/deflate_offer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsring::core {
namespace {

DeflateOffer parsed(std::string_view params, OfferStatus expected = OfferStatus::Ok) {
  DeflateOffer offer;
  EXPECT_EQ(parse_deflate_offer(params, offer), expected) << params;
  return offer;
}

TEST(DeflateOffer, NoParameters) {
  const DeflateOffer offer = parsed("");
  EXPECT_FALSE(offer.server_no_context_takeover);
  EXPECT_FALSE(offer.client_no_context_takeover);
  EXPECT_EQ(offer.server_max_window_bits, 0);
  EXPECT_FALSE(offer.client_max_window_bits);
}

TEST(DeflateOffer, EveryParameter) {
  const DeflateOffer offer =
      parsed("; server_no_context_takeover ; client_no_context_takeover;server_max_window_bits=10; "
             "client_max_window_bits=12");
  EXPECT_TRUE(offer.server_no_context_takeover);
  EXPECT_TRUE(offer.client_no_context_takeover);
  EXPECT_EQ(offer.server_max_window_bits, 10);
  EXPECT_TRUE(offer.client_max_window_bits);
  EXPECT_EQ(offer.client_max_window_bits_value, 12);
}

TEST(DeflateOffer, ClientWindowBitsWithoutValue) {
  const DeflateOffer offer = parsed("; client_max_window_bits");
  EXPECT_TRUE(offer.client_max_window_bits);
  EXPECT_EQ(offer.client_max_window_bits_value, 0);
}

TEST(DeflateOffer, QuotedValues) {
  EXPECT_EQ(parsed("; server_max_window_bits=\"9\"").server_max_window_bits, 9);
  EXPECT_EQ(parsed("; client_max_window_bits=\"15\"").client_max_window_bits_value, 15);
}

TEST(DeflateOffer, BadValues) {
  for (const char* params : {"; server_max_window_bits", "; server_max_window_bits=", "; server_max_window_bits=7",
                             "; server_max_window_bits=16", "; server_max_window_bits=010",
                             "; server_max_window_bits=1a", "; client_max_window_bits=0",
                             "; client_max_window_bits=100", "; server_no_context_takeover=1",
                             "; client_no_context_takeover=\"x\"", "; =5", "garbage"}) {
    parsed(params, OfferStatus::BadValue);
  }
}

TEST(DeflateOffer, UnknownAndDuplicateParameters) {
  parsed("; mux", OfferStatus::UnknownParameter);
  parsed("; Server_No_Context_Takeover", OfferStatus::UnknownParameter);
  parsed("; server_no_context_takeover; server_no_context_takeover", OfferStatus::DuplicateParameter);
  parsed("; client_max_window_bits; client_max_window_bits=10", OfferStatus::DuplicateParameter);
  parsed("; server_max_window_bits=10; server_max_window_bits=10", OfferStatus::DuplicateParameter);
}

struct Headers {
  std::vector<std::string> values;
  std::vector<HttpHeader> list;
  explicit Headers(std::vector<std::string> v) : values(std::move(v)) {
    for (const std::string& value : values) list.push_back(HttpHeader{"Sec-WebSocket-Extensions", value});
  }
};

DeflateNegotiation negotiate(std::vector<std::string> values, DeflatePolicy policy = {}) {
  Headers headers(std::move(values));
  return negotiate_deflate(headers.list, policy);
}

std::string response(const DeflateAgreement& agreement) {
  char buffer[128];
  const size_t n = write_deflate_response(buffer, agreement);
  return std::string(buffer, n);
}

TEST(DeflateNegotiation, NoOffer) {
  const DeflateNegotiation n = negotiate({"x-webkit-deflate-frame"});
  EXPECT_FALSE(n.offered);
  EXPECT_FALSE(n.accepted);
  EXPECT_FALSE(negotiate({}).offered);
}

TEST(DeflateNegotiation, SharedImposesNoContextTakeoverBothWays) {
  const DeflateNegotiation n = negotiate({"permessage-deflate; client_max_window_bits"});
  ASSERT_TRUE(n.accepted);
  EXPECT_EQ(response(n.agreement), "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_EQ(n.agreement.server_window_bits, 15);
  EXPECT_EQ(n.agreement.client_window_bits, 15);
}

TEST(DeflateNegotiation, DedicatedKeepsContextAndAsksForASmallerClientWindow) {
  const DeflatePolicy dedicated{false, 12};
  DeflateNegotiation n = negotiate({"permessage-deflate; client_max_window_bits"}, dedicated);
  ASSERT_TRUE(n.accepted);
  EXPECT_EQ(response(n.agreement), "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
  EXPECT_EQ(n.agreement.client_window_bits, 12);
  // Without client_max_window_bits in the offer the server may not state it.
  n = negotiate({"permessage-deflate"}, dedicated);
  EXPECT_EQ(response(n.agreement), "permessage-deflate; server_max_window_bits=12");
  EXPECT_EQ(n.agreement.client_window_bits, 15);
  // The client's own smaller hint wins, and its no-context-takeover requests are honoured.
  n = negotiate({"permessage-deflate; client_max_window_bits=10; server_no_context_takeover; client_no_context_takeover"},
                DeflatePolicy{false, 15});
  EXPECT_EQ(response(n.agreement),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10");
}

TEST(DeflateNegotiation, ServerWindowFollowsTheOffer) {
  DeflateNegotiation n = negotiate({"permessage-deflate; server_max_window_bits=10"});
  ASSERT_TRUE(n.accepted);
  EXPECT_EQ(n.agreement.server_window_bits, 10);
  EXPECT_EQ(response(n.agreement),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10");
  // 8 cannot be honoured by zlib: that offer is declined, the next one taken.
  n = negotiate({"permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"});
  ASSERT_TRUE(n.accepted);
  EXPECT_EQ(n.agreement.server_window_bits, 9);
  n = negotiate({"permessage-deflate; server_max_window_bits=8"});
  EXPECT_TRUE(n.offered);
  EXPECT_FALSE(n.accepted);
}

TEST(DeflateNegotiation, SeveralOffersInPreferenceOrder) {
  DeflateNegotiation n = negotiate(
      {"foo; bar=1, permessage-deflate; mux; server_max_window_bits=10", "permessage-deflate; client_max_window_bits=11,"
                                                                         " permessage-deflate"},
      DeflatePolicy{false, 15});
  ASSERT_TRUE(n.accepted);
  EXPECT_TRUE(n.agreement.state_client_window);
  EXPECT_EQ(n.agreement.client_window_bits, 11);
  EXPECT_FALSE(n.agreement.state_server_window);
}

TEST(DeflateNegotiation, OnlyUnacceptableOffersDeclineTheExtension) {
  const DeflateNegotiation n =
      negotiate({"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                 "permessage-deflate; client_max_window_bits=20", "permessage-deflate; unknown"});
  EXPECT_TRUE(n.offered);
  EXPECT_FALSE(n.accepted);
}

TEST(DeflateNegotiation, QuotedCommaDoesNotSplitAnOffer) {
  const DeflateNegotiation n = negotiate({"foo; x=\"a,permessage-deflate\", permessage-deflate"});
  ASSERT_TRUE(n.accepted);
  EXPECT_FALSE(n.agreement.state_server_window);
}

TEST(DeflateNegotiation, ResponseNeverOverflows) {
  DeflateAgreement all;
  all.server_no_context_takeover = all.client_no_context_takeover = true;
  all.state_server_window = all.state_client_window = true;
  char small[16];
  EXPECT_EQ(write_deflate_response(small, all), 0u);
  char enough[128];
  EXPECT_GT(write_deflate_response(enough, all), 0u);
}

TEST(DeflateResponse, ClientReadsWhatTheServerAgreed) {
  DeflateOffer agreed;
  ASSERT_TRUE(parse_deflate_response("permessage-deflate; server_no_context_takeover; client_max_window_bits=10", agreed));
  EXPECT_TRUE(agreed.server_no_context_takeover);
  EXPECT_EQ(agreed.client_max_window_bits_value, 10);
  EXPECT_TRUE(parse_deflate_response(" permessage-deflate ", agreed));
  EXPECT_FALSE(parse_deflate_response("permessage-deflate, permessage-deflate", agreed));
  EXPECT_FALSE(parse_deflate_response("x-webkit-deflate-frame", agreed));
  EXPECT_FALSE(parse_deflate_response("permessage-deflate; bogus", agreed));
}

}  // namespace
}  // namespace wsring::core
