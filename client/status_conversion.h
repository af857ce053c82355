#ifndef ACTSERVE_CLIENT_STATUS_CONVERSION_H_
#define ACTSERVE_CLIENT_STATUS_CONVERSION_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace actserve::client {

// gRPC's codes and Abseil's are the same numbers with the same meanings.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_STATUS_CONVERSION_H_
