#include "server/call_log.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/logging.h"
#include "server/metrics.h"

namespace actserve {

CallLog::CallLog(absl::string_view method, Metrics* metrics)
    : method_(method), metrics_(metrics), start_(absl::Now()) {
  if (metrics_ != nullptr) metrics_->CallStarted(method_);
}

void CallLog::Write(const grpc::Status& status) const {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  const absl::Duration duration = absl::Now() - start_;
  if (metrics_ != nullptr) {
    metrics_->CallEnded({.method = method_,
                         .activation = activation_,
                         .mode = mode_,
                         .code = code,
                         .elements = elements_,
                         .request_bytes = request_bytes_,
                         .response_bytes = response_bytes_,
                         .duration = duration});
  }
  const bool server_fault = code == absl::StatusCode::kInternal ||
                            code == absl::StatusCode::kUnknown ||
                            code == absl::StatusCode::kDataLoss;
  const LogLevel level = server_fault ? LogLevel::kError : LogLevel::kInfo;
  if (!LogEnabled(level)) return;
  std::string line = method_;
  if (!activation_.empty()) absl::StrAppend(&line, " activation=", activation_);
  if (mode_.has_value()) absl::StrAppend(&line, " mode=", ModeName(*mode_));
  if (tensors_ > 0) {
    absl::StrAppend(&line, " tensors=", tensors_, " elements=", elements_);
  }
  absl::StrAppend(&line, " status=", absl::StatusCodeToString(code));
  if (!status.ok()) absl::StrAppend(&line, " (", status.error_message(), ")");
  absl::StrAppend(&line, " duration_ms=", absl::ToDoubleMilliseconds(duration));
  Log(level, line);
}

}  // namespace actserve
