#include "client/latency_stats.h"

#include <vector>

#include "gtest/gtest.h"

namespace actserve::client {
namespace {

TEST(LatencyStatsTest, NearestRankPercentiles) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // unsorted
  const LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

TEST(LatencyStatsTest, SmallAndEmptySamples) {
  const LatencySummary one = Summarize({7});
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.p99, 7);
  const LatencySummary three = Summarize({3, 1, 2});
  EXPECT_EQ(three.p50, 2);
  EXPECT_EQ(three.p90, 3);
  const LatencySummary none = Summarize({});
  EXPECT_EQ(none.max, 0);
}

}  // namespace
}  // namespace actserve::client
