#include "server/metrics.h"

#include <google/protobuf/descriptor.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <exception>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "actserve/v1/actserve.grpc.pb.h"
#include "core/registry.h"
#include "core/thread_pool.h"

namespace actserve {
namespace {

// From a ListActivations call (~100 us) to a stream of gigabytes (a minute).
const prometheus::Histogram::BucketBoundaries kDurationBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};

// Read at each scrape, so the value is current rather than as of the last
// call.
class ThreadPoolQueueDepth : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family;
    family.name = "actserve_thread_pool_queue_depth";
    family.help = "Compute tasks waiting for a worker of the shared pool";
    family.type = prometheus::MetricType::Gauge;
    family.metric.emplace_back().gauge.value =
        static_cast<double>(ThreadPool::Shared().QueueDepth());
    return {std::move(family)};
  }
};

// Clients choose the activation name, so only catalog names become label
// values: anything else would let them create series without bound.
std::string ActivationLabel(absl::string_view name) {
  if (name.empty()) return "";
  return FindActivation(name) != nullptr ? std::string(name) : "unknown";
}

std::string ModeLabel(const std::optional<Mode>& mode) {
  return mode.has_value() ? std::string(ModeName(*mode)) : "";
}

}  // namespace

struct Metrics::Instruments {
  // The series of one method, created up front: they read 0 before its first
  // call, so rate() over them is defined from the start.
  struct Method {
    prometheus::Gauge* in_flight;
    prometheus::Histogram* duration;
    prometheus::Counter* request_bytes;
    prometheus::Counter* response_bytes;
  };

  Instruments()
      : registry(std::make_shared<prometheus::Registry>()),
        calls(prometheus::BuildCounter()
                  .Name("actserve_calls_total")
                  .Help("Finished calls by method, activation, mode and "
                        "status code")
                  .Register(*registry)),
        elements(prometheus::BuildCounter()
                     .Name("actserve_elements_total")
                     .Help("Input elements of the tensors calls accepted")
                     .Register(*registry)),
        in_flight(prometheus::BuildGauge()
                      .Name("actserve_calls_in_flight")
                      .Help("Calls started and not yet finished")
                      .Register(*registry)),
        duration(prometheus::BuildHistogram()
                     .Name("actserve_call_duration_seconds")
                     .Help("Call duration, from its start on the server to "
                           "its status")
                     .Register(*registry)),
        request_bytes(prometheus::BuildCounter()
                          .Name("actserve_request_bytes_total")
                          .Help("Serialized request messages received")
                          .Register(*registry)),
        response_bytes(prometheus::BuildCounter()
                           .Name("actserve_response_bytes_total")
                           .Help("Serialized response messages sent")
                           .Register(*registry)),
        queue_depth(std::make_shared<ThreadPoolQueueDepth>()) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            v1::ActivationService::service_full_name());
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string& name = service->method(i)->name();
      const prometheus::Labels labels = {{"method", name}};
      methods[name] = {&in_flight.Add(labels),
                       &duration.Add(labels, kDurationBuckets),
                       &request_bytes.Add(labels), &response_bytes.Add(labels)};
    }
  }

  const std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>& calls;
  prometheus::Family<prometheus::Counter>& elements;
  prometheus::Family<prometheus::Gauge>& in_flight;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Family<prometheus::Counter>& request_bytes;
  prometheus::Family<prometheus::Counter>& response_bytes;
  const std::shared_ptr<ThreadPoolQueueDepth> queue_depth;
  // Read-only once built, so calls look methods up without a lock.
  absl::flat_hash_map<std::string, Method> methods;
  // Last: it serves the members above and stops before they go.
  std::unique_ptr<prometheus::Exposer> exposer;
};

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(
    const std::string& listen) {
  auto instruments = std::make_unique<Instruments>();
  try {
    // One thread: a scrape every few seconds needs no more.
    instruments->exposer =
        std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen,
                     ": the address is in use, malformed, or not permitted (",
                     e.what(), ")"));
  }
  instruments->exposer->RegisterCollectable(instruments->registry);
  instruments->exposer->RegisterCollectable(instruments->queue_depth);
  const std::vector<int> ports = instruments->exposer->GetListeningPorts();
  std::string address = absl::StrCat(listen.substr(0, listen.rfind(':')), ":",
                                     ports.empty() ? 0 : ports.front());
  return std::unique_ptr<Metrics>(
      new Metrics(std::move(instruments), std::move(address)));
}

Metrics::Metrics(std::unique_ptr<Instruments> instruments, std::string address)
    : instruments_(std::move(instruments)), address_(std::move(address)) {}

Metrics::~Metrics() = default;

void Metrics::CallStarted(absl::string_view method) {
  auto it = instruments_->methods.find(method);
  if (it != instruments_->methods.end()) it->second.in_flight->Increment();
}

void Metrics::CallEnded(const FinishedCall& call) {
  const std::string method(call.method);
  const std::string activation = ActivationLabel(call.activation);
  const std::string mode = ModeLabel(call.mode);
  instruments_->calls
      .Add({{"method", method},
            {"activation", activation},
            {"mode", mode},
            {"code", absl::StatusCodeToString(call.code)}})
      .Increment();
  if (call.elements > 0) {
    instruments_->elements
        .Add({{"method", method}, {"activation", activation}, {"mode", mode}})
        .Increment(static_cast<double>(call.elements));
  }
  auto it = instruments_->methods.find(method);
  if (it == instruments_->methods.end()) return;
  const Instruments::Method& series = it->second;
  series.in_flight->Decrement();
  series.duration->Observe(absl::ToDoubleSeconds(call.duration));
  series.request_bytes->Increment(static_cast<double>(call.request_bytes));
  series.response_bytes->Increment(static_cast<double>(call.response_bytes));
}

}  // namespace actserve
