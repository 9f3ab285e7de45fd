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

// --- echo pass-through (echo_can_pass_through)

TEST(EchoPassThrough, SharedModeQualifiesUnlessTheClientAskedForASmallerServerWindow) {
  EXPECT_TRUE(echo_can_pass_through(negotiate({"permessage-deflate"}).agreement));
  EXPECT_TRUE(echo_can_pass_through(negotiate({"permessage-deflate; client_max_window_bits"}).agreement));
  // The client inflates with 10 bits but may deflate with 15.
  EXPECT_FALSE(echo_can_pass_through(negotiate({"permessage-deflate; server_max_window_bits=10"}).agreement));
  EXPECT_TRUE(echo_can_pass_through(
      negotiate({"permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"}).agreement));
  EXPECT_TRUE(echo_can_pass_through(
      negotiate({"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"}).agreement));
}

TEST(EchoPassThrough, DedicatedModeNeedsTheClientWindowWithinTheServerWindow) {
  DeflatePolicy dedicated{false, 10};
  // Asked for 10 bits: both sides use 10.
  EXPECT_TRUE(echo_can_pass_through(negotiate({"permessage-deflate; client_max_window_bits"}, dedicated).agreement));
  // The client cannot be asked for less: it deflates with 15, inflates with the stated 10.
  EXPECT_FALSE(echo_can_pass_through(negotiate({"permessage-deflate"}, dedicated).agreement));
  // Takeover one way only.
  EXPECT_FALSE(echo_can_pass_through(
      negotiate({"permessage-deflate; client_max_window_bits; server_no_context_takeover"}, dedicated).agreement));
  EXPECT_FALSE(echo_can_pass_through(
      negotiate({"permessage-deflate; client_max_window_bits; client_no_context_takeover"}, dedicated).agreement));
  // No takeover both ways, asked for by the client: every message stands alone.
  EXPECT_TRUE(echo_can_pass_through(negotiate({"permessage-deflate; client_max_window_bits; "
                                               "server_no_context_takeover; client_no_context_takeover"},
                                              dedicated)
                                        .agreement));
  // 15 bits, the largest: any client window fits, stated or not.
  dedicated.window_bits = 15;
  EXPECT_TRUE(echo_can_pass_through(negotiate({"permessage-deflate"}, dedicated).agreement));
}

// Every combination of the agreement's takeover flags and windows.
TEST(EchoPassThrough, EveryCombination) {
  for (int flags = 0; flags < 8; ++flags) {
    for (uint8_t server = kMinWindowBits; server <= kMaxWindowBits; ++server) {
      for (uint8_t client = 8; client <= kMaxWindowBits; ++client) {
        DeflateAgreement a;
        a.server_no_context_takeover = flags & 1;
        a.client_no_context_takeover = flags & 2;
        a.state_server_window = flags & 4;
        a.server_window_bits = server;
        a.client_window_bits = client;
        const bool same_takeover = a.server_no_context_takeover == a.client_no_context_takeover;
        // What the client inflates with: the stated window, else 15; 8 bits deflate as 9.
        const int inflate_window = a.state_server_window ? server : 15;
        const int deflate_window = client == 8 ? 9 : client;
        SCOPED_TRACE(::testing::Message() << "flags " << flags << " server " << int(server) << " client " << int(client));
        EXPECT_EQ(echo_can_pass_through(a), same_takeover && deflate_window <= inflate_window);
      }
    }
  }
  DeflateAgreement eight;  // client 8, server stated 9: zlib's 8 is 9, which fits
  eight.client_window_bits = 8;
  eight.server_window_bits = 9;
  eight.state_server_window = true;
  EXPECT_TRUE(echo_can_pass_through(eight));
}

}  // namespace
}  // namespace wsring::core
