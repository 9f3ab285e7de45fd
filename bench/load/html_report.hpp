// `--report FILE.html` (and `wsring-load merge --report`): one self-contained HTML page, no
// script, no style sheet or font from elsewhere, the plots drawn as inline SVG: messages/s,
// latency percentiles, connections and errors over time, the latency percentile spectrum
// (log scale), the run's parameters and the threshold results.
//
// Each plot is an <svg class="plot" id="plot-..." data-points="N"> holding one
// <polyline class="series" data-series="NAME" data-points="N"> per line and, up to
// kMaxMarkedPoints points, one <circle class="pt"> per point (with a <title> tooltip), so that a
// test can count what a browser rendered.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench/load/histogram.hpp"
#include "bench/load/thresholds.hpp"
#include "bench/load/timeline.hpp"

namespace wsring::load {

constexpr size_t kMaxMarkedPoints = 2000;

struct HtmlReport {
  std::string title;
  std::vector<std::pair<std::string, std::string>> parameters;  // name, value
  std::vector<std::pair<std::string, std::string>> results;     // the key figures
  std::vector<TimelinePoint> timeline;
  const LatencyHistogram* latency = nullptr;  // the whole run's echo latency (microseconds)
  std::vector<ThresholdResult> thresholds;
};

// The percentiles the spectrum plots: 0, then halving the distance to 100% in quarter steps
// (0, 15.9, 29.3, ... 90, ... 99, ...) while there are values beyond, then 100.
std::vector<double> spectrum_percentiles(uint64_t count);

std::string render_html_report(const HtmlReport& report);

std::string html_escape(const std::string& text);

}  // namespace wsring::load
