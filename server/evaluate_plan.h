#ifndef ACTSERVE_SERVER_EVALUATE_PLAN_H_
#define ACTSERVE_SERVER_EVALUATE_PLAN_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "actserve/v1/actserve.pb.h"
#include "core/evaluation.h"
#include "server/server_config.h"

namespace actserve {

// A checked Evaluate request: one Evaluation per input, all of the same mode,
// and the resolved result chunk size.
struct EvaluatePlan {
  std::vector<Evaluation> evaluations;
  int64_t chunk_bytes = 0;
};

// Checks every field of `request` against `config` and against each other.
// The error is InvalidArgument (ResourceExhausted for a tensor over the
// limits) with a message naming the field, e.g. "inputs[2]: dtype: unset".
// Evaluation i runs on request.inputs(i).data() (and grad_outputs(i).data()
// in backward mode), whose sizes this has checked.
absl::StatusOr<EvaluatePlan> PlanEvaluate(const v1::EvaluateRequest& request,
                                          const ServerConfig& config);

}  // namespace actserve

#endif  // ACTSERVE_SERVER_EVALUATE_PLAN_H_
