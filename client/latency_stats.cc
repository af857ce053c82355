#include "client/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace actserve::client {

LatencySummary Summarize(std::vector<double> samples) {
  LatencySummary summary;
  if (samples.empty()) return summary;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  auto percentile = [&](double p) {
    const size_t rank = static_cast<size_t>(std::ceil(p / 100 * n));
    return samples[std::max<size_t>(rank, 1) - 1];
  };
  summary.p50 = percentile(50);
  summary.p90 = percentile(90);
  summary.p99 = percentile(99);
  summary.max = samples.back();
  summary.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / n;
  return summary;
}

}  // namespace actserve::client
