#include "client/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace actserve::client {
namespace {

constexpr double kWidth = 640;
constexpr double kHeight = 400;
constexpr double kLeft = 64;  // room for y tick labels
constexpr double kRight = 20;
constexpr double kTop = 56;     // title and subtitle
constexpr double kBottom = 48;  // x tick labels and the axis label
constexpr int kMaxTicks = 9;

// Maps data coordinates onto the plot area (SVG y grows downwards).
struct Frame {
  double x_lo, x_hi, y_lo, y_hi;
  double Px(double x) const {
    return kLeft + (x - x_lo) / (x_hi - x_lo) * (kWidth - kLeft - kRight);
  }
  double Py(double y) const {
    return kHeight - kBottom -
           (y - y_lo) / (y_hi - y_lo) * (kHeight - kTop - kBottom);
  }
};

std::string TickLabel(double value, double step) {
  // Steps are round, so a value within a tiny fraction of a step from zero
  // is zero plus rounding error; print it as 0, not -1.11022e-16.
  if (std::abs(value) < step * 1e-9) value = 0;
  return absl::StrFormat("%g", value);
}

// The y range of all finite values, with zero included (every activation
// plot is read against y = 0) and a little headroom.
void YRange(const PlotSpec& spec, double* lo, double* hi) {
  *lo = 0;
  *hi = 0;
  for (const PlotSeries& series : spec.series) {
    for (double y : series.y) {
      if (!std::isfinite(y)) continue;
      *lo = std::min(*lo, y);
      *hi = std::max(*hi, y);
    }
  }
  if (*hi - *lo < 1e-12) *hi = *lo + 1;
  const double pad = (*hi - *lo) * 0.05;
  *lo -= pad;
  *hi += pad;
}

// One <polyline> per run of finite points.
std::string SeriesPath(const PlotSeries& series, const std::vector<double>& x,
                       const Frame& frame) {
  std::string out;
  std::string points;
  auto flush = [&] {
    if (points.empty()) return;
    absl::StrAppend(&out, "  <polyline fill=\"none\" stroke=\"",
                    XmlEscape(series.color), "\" stroke-width=\"2\"",
                    series.dashed ? " stroke-dasharray=\"6 4\"" : "",
                    " points=\"", points, "\"/>\n");
    points.clear();
  };
  const size_t n = std::min(x.size(), series.y.size());
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(series.y[i])) {
      flush();
      continue;
    }
    absl::StrAppendFormat(&points, "%s%.2f,%.2f", points.empty() ? "" : " ",
                          frame.Px(x[i]), frame.Py(series.y[i]));
  }
  flush();
  return out;
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int max_ticks) {
  std::vector<double> ticks;
  if (!(hi > lo) || max_ticks < 2) return ticks;
  const double raw = (hi - lo) / (max_ticks - 1);
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double step = magnitude * 10;
  for (double mantissa : {1.0, 2.0, 2.5, 5.0}) {
    if (magnitude * mantissa >= raw) {
      step = magnitude * mantissa;
      break;
    }
  }
  // Multiplying the index rather than adding steps keeps values exact enough
  // to print cleanly.
  const double first = std::ceil(lo / step - 1e-9);
  for (double i = first; i * step <= hi + step * 1e-9; ++i) {
    ticks.push_back(i * step);
  }
  return ticks;
}

std::string XmlEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderSvgPlot(const PlotSpec& spec) {
  Frame frame{0, 1, 0, 1};
  if (spec.x.size() >= 2 && spec.x.back() > spec.x.front()) {
    frame.x_lo = spec.x.front();
    frame.x_hi = spec.x.back();
  }
  YRange(spec, &frame.y_lo, &frame.y_hi);
  const double right = kWidth - kRight;
  const double bottom = kHeight - kBottom;

  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n"
      "  <rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      kWidth, kHeight, kWidth, kHeight);
  absl::StrAppendFormat(
      &svg,
      "  <text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" "
      "font-weight=\"bold\">%s</text>\n",
      kWidth / 2, XmlEscape(spec.title));
  if (!spec.subtitle.empty()) {
    absl::StrAppendFormat(&svg,
                          "  <text x=\"%.0f\" y=\"40\" text-anchor=\"middle\" "
                          "fill=\"#444\">%s</text>\n",
                          kWidth / 2, XmlEscape(spec.subtitle));
  }

  // Grid lines and tick labels.
  const std::vector<double> x_ticks =
      NiceTicks(frame.x_lo, frame.x_hi, kMaxTicks);
  const std::vector<double> y_ticks =
      NiceTicks(frame.y_lo, frame.y_hi, kMaxTicks);
  const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  for (double t : x_ticks) {
    const double px = frame.Px(t);
    absl::StrAppendFormat(
        &svg,
        "  <line x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.0f\" "
        "stroke=\"#e5e5e5\"/>\n"
        "  <text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
        px, kTop, px, bottom + 5, px, bottom + 18, TickLabel(t, x_step));
  }
  for (double t : y_ticks) {
    const double py = frame.Py(t);
    absl::StrAppendFormat(
        &svg,
        "  <line x1=\"%.0f\" y1=\"%.2f\" x2=\"%.0f\" y2=\"%.2f\" "
        "stroke=\"#e5e5e5\"/>\n"
        "  <text x=\"%.0f\" y=\"%.2f\" text-anchor=\"end\" "
        "dominant-baseline=\"middle\">%s</text>\n",
        kLeft - 5, py, right, py, kLeft - 8, py, TickLabel(t, y_step));
  }
  // The axes through zero, darker than the grid.
  if (frame.x_lo <= 0 && frame.x_hi >= 0) {
    absl::StrAppendFormat(&svg,
                          "  <line x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" "
                          "y2=\"%.0f\" stroke=\"#888\"/>\n",
                          frame.Px(0), kTop, frame.Px(0), bottom);
  }
  absl::StrAppendFormat(&svg,
                        "  <line x1=\"%.0f\" y1=\"%.2f\" x2=\"%.0f\" "
                        "y2=\"%.2f\" stroke=\"#888\"/>\n",
                        kLeft, frame.Py(0), right, frame.Py(0));
  absl::StrAppendFormat(&svg,
                        "  <rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
                        "height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n",
                        kLeft, kTop, right - kLeft, bottom - kTop);
  absl::StrAppendFormat(&svg,
                        "  <text x=\"%.0f\" y=\"%.0f\" "
                        "text-anchor=\"middle\">%s</text>\n",
                        (kLeft + right) / 2, kHeight - 8,
                        XmlEscape(spec.x_label));

  for (const PlotSeries& series : spec.series) {
    svg += SeriesPath(series, spec.x, frame);
  }

  // Legend, top left inside the frame, on white so lines do not cross it.
  const double legend_height = 8 + 18 * spec.series.size();
  absl::StrAppendFormat(&svg,
                        "  <rect x=\"%.0f\" y=\"%.0f\" width=\"120\" "
                        "height=\"%.0f\" fill=\"white\" fill-opacity=\"0.9\" "
                        "stroke=\"#ccc\"/>\n",
                        kLeft + 8, kTop + 8, legend_height);
  for (size_t i = 0; i < spec.series.size(); ++i) {
    const PlotSeries& series = spec.series[i];
    const double y = kTop + 22 + 18 * i;
    absl::StrAppendFormat(
        &svg,
        "  <line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
        "stroke=\"%s\" stroke-width=\"2\"%s/>\n"
        "  <text x=\"%.0f\" y=\"%.0f\" dominant-baseline=\"middle\">%s"
        "</text>\n",
        kLeft + 16, y, kLeft + 44, y, XmlEscape(series.color),
        series.dashed ? " stroke-dasharray=\"6 4\"" : "", kLeft + 52, y,
        XmlEscape(series.label));
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace actserve::client
