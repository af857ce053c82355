#ifndef ACTSERVE_SERVER_STATUS_CONVERSION_H_
#define ACTSERVE_SERVER_STATUS_CONVERSION_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace actserve {

// The one place where the core's absl::Status becomes a grpc::Status. The
// codes are numbered identically, so the mapping is one to one.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The same code with "<context>: " in front of the message, so a client can
// tell which field or tensor an error is about (e.g. "inputs[2]").
absl::Status WithContext(absl::string_view context, const absl::Status& status);

// The status a cancelled call ends with: DEADLINE_EXCEEDED when its deadline
// has passed, else CANCELLED (the client gave up, or the server shut down).
// gRPC sends the client its own status for a cancelled call; this one is for
// the server's log.
grpc::Status CancelledCallStatus(const grpc::CallbackServerContext& context);

}  // namespace actserve

#endif  // ACTSERVE_SERVER_STATUS_CONVERSION_H_
