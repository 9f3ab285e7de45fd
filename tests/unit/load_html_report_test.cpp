#include "bench/load/html_report.hpp"

#include <gtest/gtest.h>

using namespace wsring::load;

namespace {

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(LoadHtmlReport, SelfContainedWithOnePlotPointPerInterval) {
  HtmlReport r;
  r.title = "run <1>";
  r.parameters = {{"url", "ws://127.0.0.1:1/?a&b"}};
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.record(v);
  r.latency = &h;
  for (int k = 0; k < 5; ++k) {
    TimelinePoint p;
    p.start_s = k;
    p.length_s = 1;
    p.received = 100;
    p.connections = 3;
    if (k != 2) p.latency = summarize(h);  // no echo in interval 2: no latency point there
    r.timeline.push_back(p);
  }
  Threshold t;
  ASSERT_TRUE(parse_threshold("p99<1ms", t, nullptr));
  r.thresholds = evaluate_thresholds({t}, ThresholdFigures{&h});
  const std::string html = render_html_report(r);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no fetch, only the namespace
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_NE(html.find("run &lt;1&gt;"), std::string::npos);
  EXPECT_NE(html.find("ws://127.0.0.1:1/?a&amp;b"), std::string::npos);
  EXPECT_NE(html.find("id=\"plot-rate\" data-points=\"10\""), std::string::npos);
  EXPECT_NE(html.find("id=\"plot-latency\" data-points=\"16\""), std::string::npos);  // 4 series x 4 points
  EXPECT_NE(html.find("id=\"plot-connections\" data-points=\"10\""), std::string::npos);
  const size_t spectrum = spectrum_percentiles(h.count()).size();
  EXPECT_NE(html.find("id=\"plot-spectrum\" data-points=\"" + std::to_string(spectrum) + "\""), std::string::npos);
  EXPECT_EQ(occurrences(html, "<circle class=\"pt\""), 10 + 16 + 10 + spectrum);
  EXPECT_NE(html.find("<tr class=\"pass\"><td>p99&lt;1ms</td>"), std::string::npos);
}

TEST(LoadHtmlReport, SpectrumPercentilesStopWhereTheValuesDo) {
  EXPECT_TRUE(spectrum_percentiles(0).empty());
  EXPECT_EQ(spectrum_percentiles(1), (std::vector<double>{0.0, 100.0}));
  const std::vector<double> p = spectrum_percentiles(1000);
  EXPECT_DOUBLE_EQ(p[4], 50.0);
  EXPECT_DOUBLE_EQ(p.back(), 100.0);
  EXPECT_GT(p[p.size() - 2], 99.8);  // the last finite point leaves about one value above it
  for (size_t i = 1; i < p.size(); ++i) EXPECT_GT(p[i], p[i - 1]);
}
