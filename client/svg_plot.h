#ifndef ACTSERVE_CLIENT_SVG_PLOT_H_
#define ACTSERVE_CLIENT_SVG_PLOT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace actserve::client {

struct PlotSeries {
  std::string label;
  std::string color;  // any SVG color: "#1f77b4"
  bool dashed = false;
  std::vector<double> y;  // one per PlotSpec::x; non-finite values break
                          // the line
};

struct PlotSpec {
  std::string title;
  std::string subtitle;  // may be empty
  std::string x_label = "x";
  std::vector<double> x;  // increasing
  std::vector<PlotSeries> series;
};

// A self-contained SVG line chart: frame, grid, ticks with labels, the axes
// through zero when zero is in range, one polyline per series and a legend.
std::string RenderSvgPlot(const PlotSpec& spec);

// At most `max_ticks` round values (steps of 1, 2, 2.5 or 5 times a power of
// ten) covering [lo, hi]; used for both axes.
std::vector<double> NiceTicks(double lo, double hi, int max_ticks);

// Escapes &, <, > and quotes for SVG text and attributes.
std::string XmlEscape(absl::string_view text);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_SVG_PLOT_H_
