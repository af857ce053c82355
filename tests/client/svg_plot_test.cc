#include "client/svg_plot.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve::client {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pointwise;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(NiceTicksTest, PicksRoundSteps) {
  EXPECT_THAT(NiceTicks(-6, 6, 9), ElementsAre(-6, -4, -2, 0, 2, 4, 6));
  EXPECT_THAT(NiceTicks(0, 1, 6),
              Pointwise(DoubleNear(1e-12), {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_THAT(NiceTicks(-0.13, 1.13, 9),
              Pointwise(DoubleNear(1e-12), {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_THAT(
      NiceTicks(-1, 251, 9),
      Pointwise(DoubleNear(1e-9), {0.0, 50.0, 100.0, 150.0, 200.0, 250.0}));
}

TEST(NiceTicksTest, StaysWithinRangeAndCount) {
  for (double hi : {0.003, 1.0, 7.5, 123.0, 1e6}) {
    const std::vector<double> ticks = NiceTicks(-hi / 3, hi, 9);
    ASSERT_GE(ticks.size(), 2u) << hi;
    EXPECT_LE(ticks.size(), 9u) << hi;
    EXPECT_GE(ticks.front(), -hi / 3 - 1e-12) << hi;
    EXPECT_LE(ticks.back(), hi * (1 + 1e-12)) << hi;
  }
  EXPECT_TRUE(NiceTicks(1, 1, 9).empty());
}

TEST(XmlEscapeTest, EscapesMarkup) {
  EXPECT_EQ(XmlEscape("x<0 & \"y>1\""), "x&lt;0 &amp; &quot;y&gt;1&quot;");
}

PlotSpec TwoSeries() {
  PlotSpec spec;
  spec.title = "relu";
  spec.subtitle = "max(0, x) <for x>";
  for (int i = 0; i <= 10; ++i) spec.x.push_back(-5 + i);
  PlotSeries f{"f(x)", "#1f77b4", false, {}};
  PlotSeries df{"f'(x)", "#ff7f0e", true, {}};
  for (double x : spec.x) {
    f.y.push_back(std::max(0.0, x));
    df.y.push_back(x > 0 ? 1 : 0);
  }
  spec.series = {f, df};
  return spec;
}

TEST(RenderSvgPlotTest, DrawsEverySeriesWithLegendAndEscapedText) {
  const std::string svg = RenderSvgPlot(TwoSeries());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("</svg>"));
  EXPECT_EQ(Count(svg, "<polyline"), 2);
  EXPECT_EQ(Count(svg, "stroke-dasharray"), 2);  // f' line and its legend
  EXPECT_THAT(svg, HasSubstr(">relu</text>"));
  EXPECT_THAT(svg, HasSubstr("max(0, x) &lt;for x&gt;"));
  EXPECT_THAT(svg, HasSubstr(">f'(x)</text>"));
  EXPECT_THAT(svg, Not(HasSubstr("<for")));
  // x ticks -4..4 by 2 plus the ends; every label printed once or more.
  for (const char* label : {">-4<", ">-2<", ">0<", ">2<", ">4<"}) {
    EXPECT_THAT(svg, HasSubstr(label)) << label;
  }
}

TEST(RenderSvgPlotTest, PointsStayInsideThePlotArea) {
  const std::string svg = RenderSvgPlot(TwoSeries());
  const size_t start = svg.find("points=\"") + 8;
  const std::string points = svg.substr(start, svg.find('"', start) - start);
  std::istringstream in(points);
  std::string pair;
  int n = 0;
  while (in >> pair) {
    const double px = std::stod(pair.substr(0, pair.find(',')));
    const double py = std::stod(pair.substr(pair.find(',') + 1));
    EXPECT_GE(px, 64);
    EXPECT_LE(px, 620);
    EXPECT_GE(py, 56);
    EXPECT_LE(py, 352);
    ++n;
  }
  EXPECT_EQ(n, 11);
}

TEST(RenderSvgPlotTest, NonFiniteValuesBreakTheLine) {
  PlotSpec spec = TwoSeries();
  spec.series.resize(1);
  spec.series[0].y[5] = std::numeric_limits<double>::quiet_NaN();
  spec.series[0].y[6] = std::numeric_limits<double>::infinity();
  const std::string svg = RenderSvgPlot(spec);
  EXPECT_EQ(Count(svg, "<polyline"), 2);
  for (const char* bad : {"nan,", ",nan", "inf,", ",inf"}) {
    EXPECT_THAT(svg, Not(HasSubstr(bad))) << bad;
  }
}

}  // namespace
}  // namespace actserve::client
