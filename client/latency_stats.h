#ifndef ACTSERVE_CLIENT_LATENCY_STATS_H_
#define ACTSERVE_CLIENT_LATENCY_STATS_H_

#include <vector>

namespace actserve::client {

struct LatencySummary {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles (the smallest sample with at least p% of the
// samples at or below it), so every reported value was really observed.
// All zero for no samples.
LatencySummary Summarize(std::vector<double> samples);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_LATENCY_STATS_H_
