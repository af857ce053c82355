#ifndef ACTSERVE_SERVER_CALL_LOG_H_
#define ACTSERVE_SERVER_CALL_LOG_H_

#include <grpcpp/support/status.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/echo.h"
#include "core/mode.h"

namespace actserve {

class Metrics;

// What one call did, written as a single info line when it ends:
//   EvaluateStream activation=gelu mode=forward tensors=1 elements=1048576
//   status=OK duration_ms=12.5
// and recorded in the metrics, if any, from the same fields.
// Not thread-safe: each reactor updates it under its own lock.
class CallLog {
 public:
  // `metrics` may be null (metrics off); otherwise it must outlive the call.
  CallLog(absl::string_view method, Metrics* metrics);

  // The client's name, bounded and escaped (catalog names stay as they are).
  void set_activation(absl::string_view name) { activation_ = EchoText(name); }
  void set_mode(Mode mode) { mode_ = mode; }
  void AddTensor(int64_t input_elements) {
    ++tensors_;
    elements_ += input_elements;
  }
  void AddRequestBytes(size_t bytes) {
    request_bytes_ += static_cast<int64_t>(bytes);
  }
  void AddResponseBytes(size_t bytes) {
    response_bytes_ += static_cast<int64_t>(bytes);
  }

  // Writes the line; server faults (INTERNAL, UNKNOWN, DATA_LOSS) at error
  // level, everything else (client errors included) at info. Records the
  // call in the metrics whatever the log level. Called once, when the call
  // ends.
  void Write(const grpc::Status& status) const;

 private:
  std::string method_;
  Metrics* metrics_;
  std::string activation_;
  std::optional<Mode> mode_;
  int64_t tensors_ = 0;
  int64_t elements_ = 0;
  int64_t request_bytes_ = 0;
  int64_t response_bytes_ = 0;
  absl::Time start_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_CALL_LOG_H_
