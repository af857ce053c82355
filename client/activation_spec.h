#ifndef ACTSERVE_CLIENT_ACTIVATION_SPEC_H_
#define ACTSERVE_CLIENT_ACTIVATION_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actserve/v1/actserve.pb.h"

namespace actserve::client {

// Builds the spec from --fn and its --param KEY=VALUE flags. Keys: alpha,
// beta, min, max, threshold (numbers), axis, pieces (integers) and
// channel_alpha (a comma list such as 0.1,0.2 or a .npy file of float32 or
// float64). The server checks which parameters the activation takes.
absl::StatusOr<v1::ActivationSpec> ParseActivationSpec(
    absl::string_view name, const std::vector<std::string>& params);

// "forward", "derivative" or "backward".
absl::StatusOr<v1::Mode> ParseMode(absl::string_view text);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_ACTIVATION_SPEC_H_
