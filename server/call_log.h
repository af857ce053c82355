#ifndef ACTSERVE_SERVER_CALL_LOG_H_
#define ACTSERVE_SERVER_CALL_LOG_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/mode.h"

namespace actserve {

// What one call did, written as a single info line when it ends:
//   EvaluateStream activation=gelu mode=forward tensors=1 elements=1048576
//   status=OK duration_ms=12.5
// Not thread-safe: each reactor updates it under its own lock.
class CallLog {
 public:
  explicit CallLog(absl::string_view method);

  void set_activation(absl::string_view name) {
    activation_ = std::string(name);
  }
  void set_mode(Mode mode) { mode_ = mode; }
  void AddTensor(int64_t input_elements) {
    ++tensors_;
    elements_ += input_elements;
  }

  // Writes the line; server faults (INTERNAL, UNKNOWN, DATA_LOSS) at error
  // level, everything else (client errors included) at info.
  void Write(const grpc::Status& status) const;

 private:
  std::string method_;
  std::string activation_;
  std::optional<Mode> mode_;
  int64_t tensors_ = 0;
  int64_t elements_ = 0;
  absl::Time start_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_CALL_LOG_H_
