#include "server/status_conversion.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"

namespace actserve {
namespace {

constexpr bool SameCode(absl::StatusCode absl_code,
                        grpc::StatusCode grpc_code) {
  return static_cast<int>(absl_code) == static_cast<int>(grpc_code);
}

static_assert(SameCode(absl::StatusCode::kOk, grpc::OK));
static_assert(SameCode(absl::StatusCode::kCancelled, grpc::CANCELLED));
static_assert(SameCode(absl::StatusCode::kUnknown, grpc::UNKNOWN));
static_assert(SameCode(absl::StatusCode::kInvalidArgument,
                       grpc::INVALID_ARGUMENT));
static_assert(SameCode(absl::StatusCode::kDeadlineExceeded,
                       grpc::DEADLINE_EXCEEDED));
static_assert(SameCode(absl::StatusCode::kNotFound, grpc::NOT_FOUND));
static_assert(SameCode(absl::StatusCode::kAlreadyExists, grpc::ALREADY_EXISTS));
static_assert(SameCode(absl::StatusCode::kPermissionDenied,
                       grpc::PERMISSION_DENIED));
static_assert(SameCode(absl::StatusCode::kResourceExhausted,
                       grpc::RESOURCE_EXHAUSTED));
static_assert(SameCode(absl::StatusCode::kFailedPrecondition,
                       grpc::FAILED_PRECONDITION));
static_assert(SameCode(absl::StatusCode::kAborted, grpc::ABORTED));
static_assert(SameCode(absl::StatusCode::kOutOfRange, grpc::OUT_OF_RANGE));
static_assert(SameCode(absl::StatusCode::kUnimplemented, grpc::UNIMPLEMENTED));
static_assert(SameCode(absl::StatusCode::kInternal, grpc::INTERNAL));
static_assert(SameCode(absl::StatusCode::kUnavailable, grpc::UNAVAILABLE));
static_assert(SameCode(absl::StatusCode::kDataLoss, grpc::DATA_LOSS));
static_assert(SameCode(absl::StatusCode::kUnauthenticated,
                       grpc::UNAUTHENTICATED));

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status WithContext(absl::string_view context,
                         const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(context, ": ", status.message()));
}

grpc::Status CancelledCallStatus(const grpc::CallbackServerContext& context) {
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return grpc::Status(grpc::DEADLINE_EXCEEDED, "deadline exceeded");
  }
  return grpc::Status(grpc::CANCELLED, "cancelled");
}

}  // namespace actserve
