#ifndef ACTSERVE_SERVER_METRICS_H_
#define ACTSERVE_SERVER_METRICS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/mode.h"

namespace actserve {

// One finished call, as its CallLog saw it.
struct FinishedCall {
  absl::string_view method;
  // Empty when the call named none (ListActivations, a refused call).
  absl::string_view activation;
  std::optional<Mode> mode;
  absl::StatusCode code = absl::StatusCode::kOk;
  // Input elements of the tensors the call accepted.
  int64_t elements = 0;
  // Serialized request and response messages, as protobuf counts them.
  int64_t request_bytes = 0;
  int64_t response_bytes = 0;
  absl::Duration duration;
};

// The server's Prometheus metrics, served as text at http://<address>/metrics
// on a port of their own, so that scrapers need no HTTP/2 and the metrics
// stay off the port clients can reach. Every series of a call is recorded
// when the call ends (from its CallLog, the same record as its log line), and
// the thread pool's queue depth is read at each scrape. Thread-safe.
class Metrics {
 public:
  // Serves on "host:port"; port 0 picks a free one. Fails when the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(
      const std::string& listen);

  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // "127.0.0.1:9090", with a port of 0 resolved.
  const std::string& address() const { return address_; }

  void CallStarted(absl::string_view method);
  void CallEnded(const FinishedCall& call);

 private:
  // prometheus-cpp's exposer, registry and metric families: they stay in
  // metrics.cc, out of every header the server includes.
  struct Instruments;

  Metrics(std::unique_ptr<Instruments> instruments, std::string address);

  const std::unique_ptr<Instruments> instruments_;
  const std::string address_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_METRICS_H_
