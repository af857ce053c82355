#ifndef ACTSERVE_CLIENT_ACTIVATION_SPEC_H_
#define ACTSERVE_CLIENT_ACTIVATION_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actserve/v1/actserve.pb.h"
#include "client/evaluate_call.h"

namespace actserve::client {

// Builds the spec from --fn and its --param KEY=VALUE flags. Keys: alpha,
// beta, min, max, threshold (numbers), axis, pieces (integers) and
// channel_alpha (a comma list such as 0.1,0.2 or a .npy file of float32 or
// float64). The server checks which parameters the activation takes.
absl::StatusOr<v1::ActivationSpec> ParseActivationSpec(
    absl::string_view name, const std::vector<std::string>& params);

// "forward", "derivative" or "backward".
absl::StatusOr<v1::Mode> ParseMode(absl::string_view text);

// A request with its activation and mode from --fn, --param and --mode;
// its tensors are the caller's to fill in.
absl::StatusOr<EvaluationRequest> ParseRequestFlags(
    absl::string_view name, const std::vector<std::string>& params,
    absl::string_view mode);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_ACTIVATION_SPEC_H_
