// Every activation x mode at 64 Ki and 16 Mi float32 elements with 1 and 2
// threads, next to the two limits measured in the same run: memcpy of the same
// bytes (one read, one write) and y = g * x (two reads, one write). After the
// Google Benchmark output it prints ns/element and the ratio to the limit:
// forward and derivative against memcpy, backward against y = g * x.
//
//   build/bench/activation_bench --benchmark_min_time=0.2
//   build/bench/activation_bench --benchmark_filter='gelu|memcpy|g_times_x'
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/evaluation.h"
#include "core/registry.h"
#include "core/thread_pool.h"

namespace actserve {
namespace {

constexpr int64_t kSizes[] = {int64_t{1} << 16, int64_t{1} << 24};
constexpr int kThreadCounts[] = {1, 2};
// Baselines split their work like the evaluator does.
constexpr int64_t kBaselineBlock = 16384;

// The benchmark thread works in ParallelFor too: N threads are the caller
// and N - 1 workers.
ThreadPool& PoolWith(int threads) {
  static ThreadPool* const one = new ThreadPool(0);
  static ThreadPool* const two = new ThreadPool(1);
  return threads == 1 ? *one : *two;
}

// Typical activation inputs: mostly within a few units of zero.
const std::vector<float>& Inputs(int64_t n) {
  static std::map<int64_t, std::vector<float>>* const cache =
      new std::map<int64_t, std::vector<float>>();
  std::vector<float>& v = (*cache)[n];
  if (v.empty()) {
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0, 3);
    v.resize(n);
    for (float& x : v) x = dist(rng);
  }
  return v;
}

std::vector<float> Touched(int64_t n) { return std::vector<float>(n, 1.0f); }

void BM_Memcpy(benchmark::State& state, int threads) {
  const int64_t n = state.range(0);
  const std::vector<float>& x = Inputs(n);
  std::vector<float> y = Touched(n);
  ThreadPool& pool = PoolWith(threads);
  const int64_t blocks = (n + kBaselineBlock - 1) / kBaselineBlock;
  for (auto _ : state) {
    pool.ParallelFor(blocks, [&](int64_t b) {
      const int64_t lo = b * kBaselineBlock;
      const int64_t len = std::min(kBaselineBlock, n - lo);
      std::memcpy(y.data() + lo, x.data() + lo, len * sizeof(float));
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_GTimesX(benchmark::State& state, int threads) {
  const int64_t n = state.range(0);
  const std::vector<float>& x = Inputs(n);
  const std::vector<float> g = Touched(n);
  std::vector<float> y = Touched(n);
  ThreadPool& pool = PoolWith(threads);
  const int64_t blocks = (n + kBaselineBlock - 1) / kBaselineBlock;
  for (auto _ : state) {
    pool.ParallelFor(blocks, [&](int64_t b) {
      const int64_t lo = b * kBaselineBlock;
      const int64_t hi = std::min(n, lo + kBaselineBlock);
      for (int64_t i = lo; i < hi; ++i) y[i] = g[i] * x[i];
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Activation(benchmark::State& state, std::string name, Mode mode,
                   int threads) {
  const int64_t n = state.range(0);
  EvaluationRequest request;
  request.activation = name;
  request.mode = mode;
  request.dtype = DType::kFloat32;
  // Axis functions see [n / 1024, 1024]: a typical classifier width.
  request.shape = FindActivation(name)->kind == ActivationKind::kElementwise
                      ? std::vector<int64_t>{n}
                      : std::vector<int64_t>{n / 1024, 1024};
  absl::StatusOr<Evaluation> e = Evaluation::Create(request);
  if (!e.ok()) {
    state.SkipWithError(std::string(e.status().message()).c_str());
    return;
  }
  const std::vector<float>& x = Inputs(n);
  const std::vector<float> g = Touched(e->grad_elements());
  std::vector<float> y = Touched(e->output_elements());
  std::vector<ParameterGradient> grads = e->NewParameterGradients();
  ThreadPool& pool = PoolWith(threads);
  for (auto _ : state) {
    const absl::Status s =
        e->RunAll(x.data(), mode == Mode::kBackward ? g.data() : nullptr,
                  y.data(), &grads, pool);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// Collects ns/element per benchmark name for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0) continue;
      const auto items = run.counters.find("items_per_second");
      if (items == run.counters.end() || items->second.value <= 0) continue;
      std::string name = run.benchmark_name();
      const size_t suffix = name.find("/real_time");
      if (suffix != std::string::npos) name.erase(suffix);
      ns_per_element_[name] = 1e9 / items->second.value;
    }
  }

  void PrintRatios() const {
    std::printf("\n%-40s %10s %8s  %s\n", "benchmark", "ns/elem", "ratio",
                "limit");
    for (const auto& [name, ns] : ns_per_element_) {
      // name: "<what>/<threads>t/<size>"
      std::vector<std::string> parts = absl::StrSplit(name, '/');
      if (parts.size() < 3) continue;
      const std::string suffix =
          absl::StrCat("/", parts[parts.size() - 2], "/", parts.back());
      const bool backward = name.find(":backward") != std::string::npos;
      const std::string limit = (backward ? "g_times_x" : "memcpy") + suffix;
      const auto base = ns_per_element_.find(limit);
      if (base == ns_per_element_.end() || name == limit) {
        std::printf("%-40s %10.3f\n", name.c_str(), ns);
        continue;
      }
      std::printf("%-40s %10.3f %8.2f  %s\n", name.c_str(), ns,
                  ns / base->second, limit.c_str());
    }
    std::printf("\n%-40s %10s\n", "two threads vs one", "speedup");
    for (const auto& [name, ns] : ns_per_element_) {
      const size_t at = name.find("/1t/");
      if (at == std::string::npos) continue;
      std::string two = name;
      two.replace(at, 4, "/2t/");
      const auto other = ns_per_element_.find(two);
      if (other == ns_per_element_.end()) continue;
      std::printf("%-40s %10.2f\n", name.c_str(), ns / other->second);
    }
  }

 private:
  std::map<std::string, double> ns_per_element_;
};

void RegisterAll() {
  for (int threads : kThreadCounts) {
    const std::string t = absl::StrCat("/", threads, "t");
    for (int64_t size : kSizes) {
      benchmark::RegisterBenchmark(("memcpy" + t).c_str(), BM_Memcpy, threads)
          ->Arg(size)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("g_times_x" + t).c_str(), BM_GTimesX,
                                   threads)
          ->Arg(size)
          ->UseRealTime();
      for (const ActivationDef* def : AllActivations()) {
        for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
          // A softmax derivative is a K x K Jacobian per slice: its output
          // dwarfs the input, so it is no throughput case.
          if (mode == Mode::kDerivative &&
              def->kind == ActivationKind::kAlongAxis) {
            continue;
          }
          const std::string name =
              absl::StrCat(def->name, ":", ModeName(mode), t);
          benchmark::RegisterBenchmark(name.c_str(), BM_Activation,
                                       std::string(def->name), mode, threads)
              ->Arg(size)
              ->UseRealTime();
        }
      }
    }
  }
}

}  // namespace
}  // namespace actserve

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  actserve::RegisterAll();
  actserve::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
