#include "server/admin_http.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsring::server {
namespace {

AdminResponse routes(std::string_view path) {
  AdminResponse r;
  if (path == "/metrics") {
    r.body = "m 1\n";
  } else if (path == "/readyz") {
    r.status = 503;
    r.body = "draining\n";
  } else {
    r.status = 404;
    r.body = "not found\n";
  }
  return r;
}

int count(const std::string& text, std::string_view what) {
  int n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

struct Exchange {
  std::string out;
  bool open = true;
};

Exchange feed(std::initializer_list<std::string_view> pieces) {
  AdminHttpConnection http;
  Exchange e;
  for (std::string_view p : pieces) e.open = http.receive(p, routes, e.out);
  return e;
}

TEST(AdminHttpTest, AnswersGetWithLengthAndKeepsTheConnection) {
  const Exchange e = feed({"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"});
  EXPECT_TRUE(e.open);
  EXPECT_EQ(e.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << e.out;
  EXPECT_NE(e.out.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_EQ(e.out.find("Connection: close"), std::string::npos);
  EXPECT_EQ(e.out.substr(e.out.size() - 4), "m 1\n");
}

TEST(AdminHttpTest, ARequestSplitAcrossReadsIsAnsweredOnceComplete) {
  AdminHttpConnection http;
  std::string out;
  const std::string request = "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t i = 0; i + 1 < request.size(); ++i) {
    EXPECT_TRUE(http.receive(request.substr(i, 1), routes, out));
    EXPECT_TRUE(out.empty()) << "answered after " << i + 1 << " bytes";
  }
  EXPECT_TRUE(http.receive(request.substr(request.size() - 1), routes, out));
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
}

TEST(AdminHttpTest, PipelinedRequestsAreAnsweredInOrder) {
  const Exchange e = feed({"GET /metrics HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET /me"});
  EXPECT_TRUE(e.open);
  const size_t a = e.out.find("200 OK"), b = e.out.find("503 Service Unavailable"), c = e.out.find("404 Not Found");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(count(e.out, "HTTP/1.1 "), 3);  // the incomplete fourth waits
}

TEST(AdminHttpTest, ConnectionCloseIsHonoured) {
  const Exchange e = feed({"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n"});
  EXPECT_FALSE(e.open);
  EXPECT_EQ(count(e.out, "HTTP/1.1 "), 1);
  EXPECT_NE(e.out.find("Connection: close\r\n"), std::string::npos);
}

TEST(AdminHttpTest, UnknownPathIs404) {
  const Exchange e = feed({"GET /admin HTTP/1.1\r\n\r\n"});
  EXPECT_EQ(e.out.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << e.out;
  EXPECT_TRUE(e.open);
}

TEST(AdminHttpTest, OtherMethodsAre405WithAllow) {
  const Exchange e = feed({"DELETE /metrics HTTP/1.1\r\n\r\n"});
  EXPECT_EQ(e.out.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << e.out;
  EXPECT_NE(e.out.find("Allow: GET, HEAD\r\n"), std::string::npos);
}

TEST(AdminHttpTest, HeadHasTheHeadersButNoBody) {
  const Exchange e = feed({"HEAD /metrics HTTP/1.1\r\n\r\n"});
  EXPECT_NE(e.out.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_EQ(e.out.substr(e.out.size() - 4), "\r\n\r\n");
}

TEST(AdminHttpTest, ABodyIsRefusedAndTheConnectionClosed) {
  const Exchange e = feed({"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"});
  EXPECT_EQ(e.out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << e.out;
  EXPECT_FALSE(e.open);
}

TEST(AdminHttpTest, MalformedRequestIs400AndCloses) {
  const Exchange e = feed({"GET /metrics\r\n\r\n"});
  EXPECT_EQ(e.out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << e.out;
  EXPECT_NE(e.out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_FALSE(e.open);
}

TEST(AdminHttpTest, BareLineFeedIs400) {
  const Exchange e = feed({"GET /metrics HTTP/1.1\n\n"});
  EXPECT_EQ(e.out.rfind("HTTP/1.1 400 ", 0), 0u) << e.out;
  EXPECT_FALSE(e.open);
}

TEST(AdminHttpTest, AnOversizedHeadIs431EvenBeforeItEnds) {
  AdminHttpConnection http;
  std::string out;
  http.receive("GET /metrics HTTP/1.1\r\n", routes, out);
  const std::string filler = "X-Filler: " + std::string(1000, 'a') + "\r\n";
  bool open = true;
  for (int i = 0; i < 20 && open; ++i) open = http.receive(filler, routes, out);
  EXPECT_FALSE(open);
  EXPECT_EQ(out.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u) << out;
  // Nothing more is answered once it has failed.
  const size_t before = out.size();
  EXPECT_FALSE(http.receive("GET /metrics HTTP/1.1\r\n\r\n", routes, out));
  EXPECT_EQ(out.size(), before);
}

TEST(AdminHttpTest, Http10IsAnsweredThenClosed) {
  // HAProxy's `option httpchk GET /readyz` sends HTTP/1.0 without a Host header.
  const Exchange e = feed({"GET /readyz HTTP/1.0\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n"});
  EXPECT_EQ(e.out.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << e.out;  // these routes drain
  EXPECT_NE(e.out.find("Connection: close\r\n"), std::string::npos) << e.out;
  EXPECT_EQ(e.out.find("HTTP/1.1", 1), std::string::npos) << "answered past the 1.0 request: " << e.out;
  EXPECT_FALSE(e.open);
}

TEST(AdminHttpTest, OtherVersionsAre505) {
  const Exchange e = feed({"GET /metrics HTTP/1.9\r\n\r\n"});
  EXPECT_EQ(e.out.rfind("HTTP/1.1 505 ", 0), 0u) << e.out;
  EXPECT_FALSE(e.open);
}

}  // namespace
}  // namespace wsring::server
