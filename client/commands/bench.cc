// actserve-client bench: a closed-loop load generator.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/activation_spec.h"
#include "client/channel.h"
#include "client/commands/command_line.h"
#include "client/commands/commands.h"
#include "client/evaluate_call.h"
#include "client/latency_stats.h"
#include "client/tensor.h"

namespace actserve::client {
namespace {

struct BenchFlags {
  std::string fn = "relu";
  std::vector<std::string> params;
  std::string mode = "forward";
  std::string dtype = "float32";
  std::string shape = "1024,256";
  int64_t concurrency = 4;
  absl::Duration duration = absl::Seconds(10);
  int64_t calls = 0;
  bool streaming = false;
  bool json = false;
  int64_t chunk_bytes = 1 << 20;
  ConnectionOptions connection;
};

// What one worker saw; merged after all have stopped.
struct WorkerStats {
  std::vector<double> latencies_ms;
  int64_t sent_bytes = 0;
  int64_t received_bytes = 0;
  std::map<absl::StatusCode, int64_t> errors;
};

absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text) {
  std::vector<int64_t> shape;
  for (absl::string_view dim : absl::StrSplit(text, ',')) {
    int64_t value;
    if (!absl::SimpleAtoi(dim, &value) || value < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--shape=", text, ": expected dimensions such as 1024,256"));
    }
    shape.push_back(value);
  }
  return shape;
}

// Uniform values in [-6, 6], where every activation does something
// interesting; seeded so runs are comparable.
template <typename T>
std::string RandomData(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<T> uniform(-6, 6);
  std::string data(count * sizeof(T), '\0');
  for (int64_t i = 0; i < count; ++i) {
    const T value = uniform(rng);
    std::memcpy(data.data() + i * sizeof(T), &value, sizeof(T));
  }
  return data;
}

absl::StatusOr<v1::Tensor> RandomTensor(const std::vector<int64_t>& shape,
                                        absl::string_view dtype,
                                        uint32_t seed) {
  v1::Tensor tensor;
  tensor.mutable_shape()->Add(shape.begin(), shape.end());
  if (dtype == "float32") {
    tensor.set_dtype(v1::DTYPE_FLOAT32);
    *tensor.mutable_data() = RandomData<float>(ElementCount(tensor), seed);
  } else if (dtype == "float64") {
    tensor.set_dtype(v1::DTYPE_FLOAT64);
    *tensor.mutable_data() = RandomData<double>(ElementCount(tensor), seed);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--dtype=", dtype, ": expected float32 or float64"));
  }
  return tensor;
}

// The request views the random tensors, which live in *x and *grad.
absl::StatusOr<EvaluationRequest> MakeRequest(const BenchFlags& flags,
                                              v1::ActivationService::Stub& stub,
                                              const TransferOptions& transfer,
                                              v1::Tensor* x, v1::Tensor* grad) {
  absl::StatusOr<EvaluationRequest> request =
      ParseRequestFlags(flags.fn, flags.params, flags.mode);
  if (!request.ok()) return request.status();
  absl::StatusOr<std::vector<int64_t>> shape = ParseShape(flags.shape);
  if (!shape.ok()) return shape.status();
  absl::StatusOr<v1::Tensor> input = RandomTensor(*shape, flags.dtype, 1);
  if (!input.ok()) return input.status();
  *x = *std::move(input);
  request->input = ViewOf(*x);
  if (request->mode == v1::MODE_BACKWARD) {
    // grad_output has the forward output's shape, which only the server
    // knows for every activation (maxout shrinks the axis): ask it once.
    EvaluationRequest forward_request = *request;
    forward_request.mode = v1::MODE_FORWARD;
    absl::StatusOr<EvaluationResult> forward =
        Evaluate(stub, forward_request, transfer);
    if (!forward.ok()) return forward.status();
    const std::vector<int64_t> out_shape(forward->output.shape().begin(),
                                         forward->output.shape().end());
    absl::StatusOr<v1::Tensor> gradient =
        RandomTensor(out_shape, flags.dtype, 2);
    if (!gradient.ok()) return gradient.status();
    *grad = *std::move(gradient);
    request->grad_output = ViewOf(*grad);
  }
  return request;
}

void RunWorker(v1::ActivationService::Stub& stub,
               const EvaluationRequest& request,
               const TransferOptions& transfer, absl::Time end,
               std::atomic<int64_t>* calls_left, WorkerStats* stats) {
  const int64_t request_bytes =
      request.input.data.size() +
      (request.grad_output ? request.grad_output->data.size() : 0);
  while (absl::Now() < end && calls_left->fetch_sub(1) > 0) {
    const absl::Time start = absl::Now();
    absl::StatusOr<EvaluationResult> result = Evaluate(stub, request, transfer);
    stats->latencies_ms.push_back(
        absl::ToDoubleMilliseconds(absl::Now() - start));
    if (result.ok()) {
      stats->sent_bytes += request_bytes;
      stats->received_bytes += result->output.data().size();
    } else {
      ++stats->errors[result.status().code()];
    }
  }
}

void Report(const BenchFlags& flags, const WorkerStats& total, double seconds) {
  const int64_t calls = total.latencies_ms.size();
  int64_t failed = 0;
  for (const auto& [code, count] : total.errors) failed += count;
  const LatencySummary latency = Summarize(total.latencies_ms);
  const double calls_per_s = calls / seconds;
  const double sent_gbps = total.sent_bytes / seconds / 1e9;
  const double received_gbps = total.received_bytes / seconds / 1e9;
  if (flags.json) {
    std::string errors = absl::StrJoin(
        total.errors, ", ", [](std::string* out, const auto& entry) {
          absl::StrAppend(out, "\"", absl::StatusCodeToString(entry.first),
                          "\": ", entry.second);
        });
    absl::PrintF(
        "{\"activation\": \"%s\", \"mode\": \"%s\", \"dtype\": \"%s\", "
        "\"shape\": [%s], \"streaming\": %s, \"concurrency\": %d, "
        "\"seconds\": %.3f, \"calls\": %d, \"ok\": %d, \"errors\": {%s}, "
        "\"calls_per_second\": %.2f, \"sent_gb_per_second\": %.4f, "
        "\"received_gb_per_second\": %.4f, \"latency_ms\": {\"p50\": %.3f, "
        "\"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f, \"mean\": %.3f}}\n",
        flags.fn, flags.mode, flags.dtype, flags.shape,
        flags.streaming ? "true" : "false", flags.concurrency, seconds, calls,
        calls - failed, errors, calls_per_s, sent_gbps, received_gbps,
        latency.p50, latency.p90, latency.p99, latency.max, latency.mean);
    return;
  }
  absl::PrintF("%s %s, %s [%s], %s, concurrency %d, %.2f s\n", flags.fn,
               flags.mode, flags.dtype, flags.shape,
               flags.streaming ? "EvaluateStream" : "Evaluate",
               flags.concurrency, seconds);
  absl::PrintF("calls       %d ok, %d failed, %.1f calls/s\n", calls - failed,
               failed, calls_per_s);
  absl::PrintF("throughput  sent %.3f GB/s, received %.3f GB/s\n", sent_gbps,
               received_gbps);
  absl::PrintF("latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
               latency.p50, latency.p90, latency.p99, latency.max);
  for (const auto& [code, count] : total.errors) {
    absl::PrintF("errors      %s: %d\n", absl::StatusCodeToString(code), count);
  }
}

}  // namespace

int RunBench(absl::Span<const std::string> args) {
  BenchFlags bench;
  FlagSet flags(
      "actserve-client bench [flags]",
      "Load generator: `concurrency` workers call the server back to back\n"
      "with the same random tensor, for --duration or until --calls calls,\n"
      "then report calls/s, GB/s each way, latency percentiles and errors by\n"
      "status code.\n\n"
      "Example:\n"
      "  actserve-client bench --fn=gelu --shape=4096,256 --concurrency=8 "
      "--duration=5s");
  flags.AddString("fn", &bench.fn, "Activation name.", "NAME");
  flags.AddRepeated("param", &bench.params, "Activation parameter.",
                    "KEY=VALUE");
  flags.AddString("mode", &bench.mode, "forward, derivative or backward.",
                  "MODE");
  flags.AddString("dtype", &bench.dtype, "float32 or float64.", "TYPE");
  flags.AddString("shape", &bench.shape, "Shape of each call's input.",
                  "D1,D2,...");
  flags.AddInt("concurrency", &bench.concurrency,
               "Calls in flight at once (one thread each).");
  flags.AddDuration("duration", &bench.duration,
                    "How long to run, unless --calls ends it first.");
  flags.AddInt("calls", &bench.calls, "Stop after this many calls; 0: none.");
  flags.AddBool("streaming", &bench.streaming,
                "Use EvaluateStream for every call instead of Evaluate.");
  flags.AddInt("chunk-bytes", &bench.chunk_bytes,
               "Bytes per streamed message and response chunk.", "BYTES");
  flags.AddBool("json", &bench.json, "Print the report as one JSON object.");
  AddConnectionFlags(flags, &bench.connection);
  if (std::optional<int> exit = ParseCommandLine(flags, args)) return *exit;
  if (bench.concurrency < 1 || bench.calls < 0) {
    std::fprintf(stderr, "error: --concurrency >= 1 and --calls >= 0\n");
    return kExitUsage;
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(bench.connection);
  if (!channel.ok()) return ReportFailure("bench", channel.status());
  std::unique_ptr<v1::ActivationService::Stub> stub =
      v1::ActivationService::NewStub(*channel);
  TransferOptions transfer;
  transfer.deadline = bench.connection.deadline;
  transfer.chunk_bytes = bench.chunk_bytes;
  transfer.stream_threshold_bytes =
      bench.streaming ? -1 : std::numeric_limits<int64_t>::max();
  v1::Tensor x, grad;  // what the request views
  absl::StatusOr<EvaluationRequest> request =
      MakeRequest(bench, *stub, transfer, &x, &grad);
  if (!request.ok()) return ReportFailure("bench", request.status());

  std::atomic<int64_t> calls_left(
      bench.calls > 0 ? bench.calls : std::numeric_limits<int64_t>::max());
  std::vector<WorkerStats> stats(bench.concurrency);
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  const absl::Time end = start + bench.duration;
  for (WorkerStats& worker_stats : stats) {
    workers.emplace_back(RunWorker, std::ref(*stub), std::cref(*request),
                         std::cref(transfer), end, &calls_left, &worker_stats);
  }
  for (std::thread& worker : workers) worker.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  WorkerStats total;
  for (WorkerStats& worker_stats : stats) {
    total.latencies_ms.insert(total.latencies_ms.end(),
                              worker_stats.latencies_ms.begin(),
                              worker_stats.latencies_ms.end());
    total.sent_bytes += worker_stats.sent_bytes;
    total.received_bytes += worker_stats.received_bytes;
    for (const auto& [code, count] : worker_stats.errors) {
      total.errors[code] += count;
    }
  }
  Report(bench, total, seconds);
  return total.errors.empty() ? kExitOk : kExitFailure;
}

}  // namespace actserve::client
