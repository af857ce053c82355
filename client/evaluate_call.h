#ifndef ACTSERVE_CLIENT_EVALUATE_CALL_H_
#define ACTSERVE_CLIENT_EVALUATE_CALL_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actserve/v1/actserve.grpc.pb.h"
#include "client/chunk_assembler.h"
#include "client/progress_bar.h"
#include "client/tensor.h"

namespace actserve::client {

// One tensor to evaluate.
struct EvaluationRequest {
  v1::ActivationSpec activation;
  v1::Mode mode = v1::MODE_FORWARD;
  TensorView input;
  // Backward mode only: shaped like the forward output.
  std::optional<TensorView> grad_output;
  // The views' bytes must outlive the call: a streamed input is sent slice
  // by slice from there, never copied whole.
};

struct EvaluationResult {
  v1::Tensor output;
  // Backward mode: gradients of learnable parameters (prelu, swish).
  std::vector<v1::ParameterGradient> parameter_gradients;
  bool streamed = false;  // whether EvaluateStream carried it
  int64_t compute_micros = 0;
};

struct TransferOptions {
  absl::Duration deadline = absl::Seconds(60);
  // Requests whose tensors are larger than this go over EvaluateStream: a
  // unary request must fit in one message, and servers accept 4 MiB by
  // default. The margin leaves room for the rest of the message.
  int64_t stream_threshold_bytes = (4 << 20) - (64 << 10);
  // Bytes of x (and as many of grad_output) per streamed message, and the
  // response chunk size asked for; 0 lets the server choose its default.
  int64_t chunk_bytes = 1 << 20;
  TransferProgress* progress = nullptr;  // may be null
  // Where the output goes; unset: EvaluationResult::output's data.
  OutputAllocator output_allocator;
};

// Evaluates over Evaluate or EvaluateStream, whichever the size calls for.
absl::StatusOr<EvaluationResult> Evaluate(
    v1::ActivationService::StubInterface& stub,
    const EvaluationRequest& request, const TransferOptions& options);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_EVALUATE_CALL_H_
