#include "server/evaluate_plan.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/echo.h"
#include "server/proto_conversion.h"
#include "server/status_conversion.h"

namespace actserve {

absl::StatusOr<EvaluatePlan> PlanEvaluate(const v1::EvaluateRequest& request,
                                          const ServerConfig& config) {
  absl::StatusOr<ActivationParams> params =
      ParamsFromProto(request.activation());
  if (!params.ok()) return WithContext("activation", params.status());
  absl::StatusOr<Mode> mode = ModeFromProto(request.mode());
  if (!mode.ok()) return mode.status();
  EvaluatePlan plan;
  absl::StatusOr<int64_t> chunk_bytes =
      config.chunk_sizes.Resolve(request.chunk_bytes());
  if (!chunk_bytes.ok()) return chunk_bytes.status();
  plan.chunk_bytes = *chunk_bytes;
  if (request.inputs().empty()) {
    return absl::InvalidArgumentError(
        "inputs: empty; send at least one tensor");
  }
  const bool backward = *mode == Mode::kBackward;
  if (backward && request.grad_outputs_size() != request.inputs_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("grad_outputs: MODE_BACKWARD needs one per input; got ",
                     request.grad_outputs_size(), " for ",
                     request.inputs_size(), " inputs"));
  }
  if (!backward && !request.grad_outputs().empty()) {
    return absl::InvalidArgumentError(
        "grad_outputs: only MODE_BACKWARD takes grad_outputs");
  }

  for (int i = 0; i < request.inputs_size(); ++i) {
    const std::string input_name = absl::StrCat("inputs[", i, "]");
    absl::StatusOr<TensorView> input = ValidateTensor(request.inputs(i));
    if (!input.ok()) return WithContext(input_name, input.status());
    EvaluationRequest evaluation_request{request.activation().name(), *params,
                                         *mode, input->dtype, input->shape};
    absl::StatusOr<Evaluation> evaluation =
        Evaluation::Create(evaluation_request, config.limits);
    if (!evaluation.ok()) return WithContext(input_name, evaluation.status());
    if (backward) {
      const std::string grad_name = absl::StrCat("grad_outputs[", i, "]");
      absl::StatusOr<TensorView> grad = ValidateTensor(request.grad_outputs(i));
      if (!grad.ok()) return WithContext(grad_name, grad.status());
      if (grad->dtype != input->dtype) {
        return absl::InvalidArgumentError(absl::StrCat(
            grad_name, ": dtype ", DTypeName(grad->dtype),
            " differs from the input's ", DTypeName(input->dtype)));
      }
      if (grad->shape != evaluation->grad_shape()) {
        return absl::InvalidArgumentError(
            absl::StrCat(grad_name, ": shape ", EchoShape(grad->shape),
                         " is not the forward output's shape ",
                         EchoShape(evaluation->grad_shape())));
      }
    }
    plan.evaluations.push_back(*std::move(evaluation));
  }
  return plan;
}

}  // namespace actserve
