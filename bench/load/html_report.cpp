#include "bench/load/html_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wsring::load {
namespace {

constexpr double kWidth = 760, kHeight = 280;
constexpr double kLeft = 70, kRight = 20, kTop = 15, kBottom = 40;

struct Series {
  std::string name;
  const char* color;
  std::vector<std::pair<double, double>> points;  // x, y in data units
};

std::string fmt(const char* format, double v) {
  char text[64];
  snprintf(text, sizeof text, format, v);
  return text;
}

// A value as an axis label: 1234567 -> 1.23M.
std::string short_number(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt("%.3gG", v / 1e9);
  if (a >= 1e6) return fmt("%.3gM", v / 1e6);
  if (a >= 1e4) return fmt("%.3gk", v / 1e3);
  return fmt("%.4g", v);
}

double nice_ceiling(double v) {
  if (v <= 0) return 1;
  const double magnitude = std::pow(10.0, std::floor(std::log10(v)));
  for (double step : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (v <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

struct Axis {
  double x_min = 0, x_max = 1, y_max = 1;
  bool log_x = false;  // x given as log10 already
  double px(double x) const { return kLeft + (x - x_min) / (x_max - x_min) * (kWidth - kLeft - kRight); }
  double py(double y) const { return kHeight - kBottom - y / y_max * (kHeight - kTop - kBottom); }
};

std::string svg_plot(const std::string& id, const std::string& caption, const std::string& x_label,
                     const std::string& y_label, const std::vector<Series>& series,
                     const std::vector<std::pair<double, std::string>>& x_ticks, Axis axis) {
  size_t total = 0;
  double y_max = 0;
  for (const Series& s : series) {
    total += s.points.size();
    for (const auto& p : s.points) y_max = std::max(y_max, p.second);
  }
  axis.y_max = nice_ceiling(y_max);
  std::string out = "<figure>\n<figcaption>" + html_escape(caption) + "</figcaption>\n";
  out += "<svg class=\"plot\" id=\"" + id + "\" data-points=\"" + std::to_string(total) +
         "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", kWidth) + "\" height=\"" +
         fmt("%.0f", kHeight) + "\" viewBox=\"0 0 " + fmt("%.0f", kWidth) + " " + fmt("%.0f", kHeight) + "\">\n";
  const double x0 = axis.px(axis.x_min), x1 = axis.px(axis.x_max), y0 = axis.py(0), y1 = axis.py(axis.y_max);
  out += "<rect x=\"" + fmt("%.1f", x0) + "\" y=\"" + fmt("%.1f", y1) + "\" width=\"" + fmt("%.1f", x1 - x0) +
         "\" height=\"" + fmt("%.1f", y0 - y1) + "\" fill=\"#fafafa\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 4; ++i) {  // y grid and labels
    const double v = axis.y_max * i / 4, y = axis.py(v);
    out += "<line x1=\"" + fmt("%.1f", x0) + "\" x2=\"" + fmt("%.1f", x1) + "\" y1=\"" + fmt("%.1f", y) + "\" y2=\"" +
           fmt("%.1f", y) + "\" stroke=\"#ddd\"/><text class=\"tick\" x=\"" + fmt("%.1f", x0 - 6) + "\" y=\"" +
           fmt("%.1f", y + 4) + "\" text-anchor=\"end\">" + short_number(v) + "</text>\n";
  }
  for (const auto& [x, label] : x_ticks) {
    if (x < axis.x_min || x > axis.x_max) continue;
    out += "<text class=\"tick\" x=\"" + fmt("%.1f", axis.px(x)) + "\" y=\"" + fmt("%.1f", y0 + 16) +
           "\" text-anchor=\"middle\">" + html_escape(label) + "</text>\n";
  }
  out += "<text x=\"" + fmt("%.1f", (x0 + x1) / 2) + "\" y=\"" + fmt("%.1f", kHeight - 4) +
         "\" text-anchor=\"middle\">" + html_escape(x_label) + "</text>\n";
  out += "<text x=\"14\" y=\"" + fmt("%.1f", (y0 + y1) / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " +
         fmt("%.1f", (y0 + y1) / 2) + ")\">" + html_escape(y_label) + "</text>\n";
  double legend_x = x0 + 8;
  for (const Series& s : series) {
    std::string points;
    for (const auto& p : s.points)
      points += fmt("%.1f", axis.px(p.first)) + "," + fmt("%.1f", axis.py(p.second)) + " ";
    out += "<polyline class=\"series\" data-series=\"" + html_escape(s.name) + "\" data-points=\"" +
           std::to_string(s.points.size()) + "\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.5\" points=\"" +
           points + "\"/>\n";
    if (s.points.size() <= kMaxMarkedPoints)
      for (const auto& p : s.points)
        out += "<circle class=\"pt\" data-series=\"" + html_escape(s.name) + "\" cx=\"" + fmt("%.1f", axis.px(p.first)) +
               "\" cy=\"" + fmt("%.1f", axis.py(p.second)) + "\" r=\"2\" fill=\"" + s.color + "\"><title>" +
               html_escape(s.name) + ": " + short_number(p.second) + "</title></circle>\n";
    out += "<text x=\"" + fmt("%.1f", legend_x) + "\" y=\"" + fmt("%.1f", y1 + 14) + "\" fill=\"" + s.color + "\">" +
           html_escape(s.name) + "</text>\n";
    legend_x += 10 + 8 * double(s.name.size());
  }
  return out + "</svg>\n</figure>\n";
}

std::vector<std::pair<double, std::string>> time_ticks(double end_s) {
  std::vector<std::pair<double, std::string>> ticks;
  const double step = nice_ceiling(std::max(end_s, 1.0) / 8);
  for (double t = 0; t <= end_s + 1e-9; t += step) ticks.emplace_back(t, short_number(t));
  return ticks;
}

std::string table(const std::vector<std::pair<std::string, std::string>>& rows, const char* id) {
  std::string out = std::string("<table id=\"") + id + "\">\n";
  for (const auto& [name, value] : rows)
    out += "<tr><th>" + html_escape(name) + "</th><td>" + html_escape(value) + "</td></tr>\n";
  return out + "</table>\n";
}

std::string threshold_table(const std::vector<ThresholdResult>& results) {
  if (results.empty()) return "<p>No thresholds were given.</p>\n";
  std::string out = "<table id=\"thresholds\">\n<tr><th>threshold</th><th>actual</th><th>result</th></tr>\n";
  for (const ThresholdResult& r : results) {
    const std::string unit = is_latency_metric(r.threshold.metric) ? " us" : r.threshold.metric == "rate" ? " /s" : "";
    out += std::string("<tr class=\"") + (r.pass ? "pass" : "fail") + "\"><td>" + html_escape(r.threshold.text) +
           "</td><td>" + fmt("%.1f", r.actual) + unit + "</td><td>" + (r.pass ? "pass" : "FAIL") + "</td></tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> spectrum_percentiles(uint64_t count) {
  std::vector<double> out;
  if (count == 0) return out;
  // Stop once the distance to 100% holds less than one value: beyond, every point is the maximum.
  for (int i = 0;; ++i) {
    const double remaining = std::pow(0.5, i / 4.0);
    if (remaining * double(count) < 1 || i > 160) break;
    out.push_back(100.0 * (1.0 - remaining));
  }
  out.push_back(100.0);
  return out;
}

std::string render_html_report(const HtmlReport& r) {
  const std::vector<TimelinePoint>& tl = r.timeline;
  const double end_s = tl.empty() ? 1.0 : std::max(1.0, tl.back().start_s + tl.back().length_s);
  Axis time_axis;
  time_axis.x_max = end_s;
  auto at = [](const TimelinePoint& p) { return p.start_s + p.length_s; };  // plotted at the interval's end
  auto per_s = [](uint64_t n, const TimelinePoint& p) { return p.length_s > 0 ? double(n) / p.length_s : 0.0; };

  Series sent{"sent/s", "#1f77b4", {}}, received{"received/s", "#2ca02c", {}};
  Series p50{"p50", "#2ca02c", {}}, p90{"p90", "#1f77b4", {}}, p99{"p99", "#ff7f0e", {}}, max{"max", "#d62728", {}};
  Series connections{"connections", "#1f77b4", {}}, errors{"errors", "#d62728", {}};
  for (const TimelinePoint& p : tl) {
    sent.points.emplace_back(at(p), per_s(p.sent, p));
    received.points.emplace_back(at(p), per_s(p.received, p));
    connections.points.emplace_back(at(p), double(p.connections));
    errors.points.emplace_back(at(p), double(p.errors));
    if (p.latency.count == 0) continue;
    p50.points.emplace_back(at(p), double(p.latency.p50));
    p90.points.emplace_back(at(p), double(p.latency.p90));
    p99.points.emplace_back(at(p), double(p.latency.p99));
    max.points.emplace_back(at(p), double(p.latency.max));
  }
  Series spectrum{"latency", "#9467bd", {}};
  std::vector<std::pair<double, std::string>> spectrum_ticks;
  Axis spectrum_axis;
  if (r.latency && r.latency->count()) {
    const std::vector<double> ps = spectrum_percentiles(r.latency->count());
    double last_x = 0;
    for (double p : ps) {
      // x = log10(1 / (1 - p)); 100% sits one step past the last finite point.
      const double x = p < 100 ? std::log10(1.0 / (1.0 - p / 100.0)) : last_x + 0.3;
      spectrum.points.emplace_back(x, double(r.latency->percentile(p)));
      last_x = x;
    }
    spectrum_axis.x_max = std::max(1.0, last_x);
  }
  const char* labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"};
  for (int d = 0; d < 8; ++d) spectrum_ticks.emplace_back(double(d), labels[d]);

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(r.title) +
      "</title>\n<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\ntable{border-collapse:collapse;margin:1em 0}\n"
      "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}\ntr.fail td{background:#fdd}\ntr.pass "
      "td{background:#dfd}\nfigure{margin:1em 0}\nfigcaption{font-weight:bold}\nsvg text{font-size:11px}\n</style>\n"
      "</head>\n<body>\n<h1>" +
      html_escape(r.title) + "</h1>\n<h2>Parameters</h2>\n" + table(r.parameters, "parameters") + "<h2>Results</h2>\n" +
      table(r.results, "results") + "<h2>Thresholds</h2>\n" + threshold_table(r.thresholds) + "<h2>Over time</h2>\n";
  html += svg_plot("plot-rate", "Messages per second", "seconds", "messages/s", {sent, received}, time_ticks(end_s),
                   time_axis);
  html += svg_plot("plot-latency", "Echo latency percentiles per second", "seconds", "microseconds", {p50, p90, p99, max},
                   time_ticks(end_s), time_axis);
  html += svg_plot("plot-connections", "Open connections and errors", "seconds", "count", {connections, errors},
                   time_ticks(end_s), time_axis);
  html += "<h2>Latency distribution</h2>\n";
  html += svg_plot("plot-spectrum", "Echo latency by percentile (log scale of 1/(1-p))", "percentile", "microseconds",
                   {spectrum}, spectrum_ticks, spectrum_axis);
  return html + "</body>\n</html>\n";
}

}  // namespace wsring::load
