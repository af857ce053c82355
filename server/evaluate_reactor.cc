#include "server/evaluate_reactor.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/thread_pool.h"
#include "server/output_chunker.h"
#include "server/proto_conversion.h"
#include "server/status_conversion.h"

namespace actserve {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace

EvaluateReactor::EvaluateReactor(grpc::CallbackServerContext* context,
                                 const v1::EvaluateRequest* request,
                                 const ServerConfig& config,
                                 StreamLimiter::Permit permit, CallLog log)
    : context_(context),
      request_(*request),
      permit_(std::move(permit)),
      log_(std::move(log)) {
  absl::Status status = Prepare(config);
  {
    absl::MutexLock lock(&mu_);
    status_ = status;
  }
  Advance();
}

absl::Status EvaluateReactor::Prepare(const ServerConfig& config) {
  log_.set_activation(request_.activation().name());
  absl::StatusOr<ActivationParams> params =
      ParamsFromProto(request_.activation());
  if (!params.ok()) return WithContext("activation", params.status());
  absl::StatusOr<Mode> mode = ModeFromProto(request_.mode());
  if (!mode.ok()) return mode.status();
  log_.set_mode(*mode);
  absl::StatusOr<int64_t> chunk_bytes =
      config.chunk_sizes.Resolve(request_.chunk_bytes());
  if (!chunk_bytes.ok()) return chunk_bytes.status();
  chunk_bytes_ = *chunk_bytes;
  if (request_.inputs().empty()) {
    return absl::InvalidArgumentError(
        "inputs: empty; send at least one tensor");
  }
  const bool backward = *mode == Mode::kBackward;
  if (backward && request_.grad_outputs_size() != request_.inputs_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("grad_outputs: MODE_BACKWARD needs one per input; got ",
                     request_.grad_outputs_size(), " for ",
                     request_.inputs_size(), " inputs"));
  }
  if (!backward && !request_.grad_outputs().empty()) {
    return absl::InvalidArgumentError(
        "grad_outputs: only MODE_BACKWARD takes grad_outputs");
  }

  for (int i = 0; i < request_.inputs_size(); ++i) {
    const std::string input_name = absl::StrCat("inputs[", i, "]");
    absl::StatusOr<TensorView> input = ValidateTensor(request_.inputs(i));
    if (!input.ok()) return WithContext(input_name, input.status());
    EvaluationRequest evaluation_request{request_.activation().name(), *params,
                                         *mode, input->dtype, input->shape};
    absl::StatusOr<Evaluation> evaluation =
        Evaluation::Create(evaluation_request, config.limits);
    if (!evaluation.ok()) return WithContext(input_name, evaluation.status());
    if (backward) {
      const std::string grad_name = absl::StrCat("grad_outputs[", i, "]");
      absl::StatusOr<TensorView> grad =
          ValidateTensor(request_.grad_outputs(i));
      if (!grad.ok()) return WithContext(grad_name, grad.status());
      if (grad->dtype != input->dtype) {
        return absl::InvalidArgumentError(absl::StrCat(
            grad_name, ": dtype ", DTypeName(grad->dtype),
            " differs from the input's ", DTypeName(input->dtype)));
      }
      if (grad->shape != evaluation->grad_shape()) {
        return absl::InvalidArgumentError(
            absl::StrCat(grad_name, ": shape ", ShapeString(grad->shape),
                         " is not the forward output's shape ",
                         ShapeString(evaluation->grad_shape())));
      }
    }
    log_.AddTensor(evaluation->input_elements());
    evaluations_.push_back(*std::move(evaluation));
  }
  param_grads_ = evaluations_.front().NewParameterGradients();
  return absl::OkStatus();
}

void EvaluateReactor::ComputeNextPiece() {
  std::vector<std::unique_ptr<v1::EvaluateResponse>> out;
  auto add_chunk = [&out] {
    out.push_back(std::make_unique<v1::EvaluateResponse>());
    return out.back()->mutable_chunk();
  };
  const Evaluation& evaluation = evaluations_[next_input_];
  const OutputChunker chunker(evaluation, chunk_bytes_,
                              static_cast<int32_t>(next_input_));
  absl::Status status;
  if (NothingToCompute(evaluation)) {
    chunker.AddEmptyOutput(add_chunk);
    next_unit_ = evaluation.units();
  } else {
    const int64_t count =
        std::min(chunker.units_per_piece(), evaluation.units() - next_unit_);
    const size_t item_size = ItemSize(evaluation.dtype());
    const char* x =
        request_.inputs(static_cast<int>(next_input_)).data().data() +
        next_unit_ * evaluation.input_unit() * item_size;
    const char* grad = nullptr;
    if (evaluation.mode() == Mode::kBackward) {
      grad =
          request_.grad_outputs(static_cast<int>(next_input_)).data().data() +
          next_unit_ * evaluation.grad_unit() * item_size;
    }
    const absl::Time start = absl::Now();
    status = chunker.ComputePiece(next_unit_, count, x, grad, &param_grads_,
                                  add_chunk);
    compute_time_ += absl::Now() - start;
    next_unit_ += count;
  }
  if (status.ok() && next_unit_ == evaluation.units()) FinishInput(&out);

  {
    absl::MutexLock lock(&mu_);
    computing_ = false;
    if (!status.ok()) {
      status_ = WithContext(absl::StrCat("inputs[", next_input_, "]"), status);
    }
    computed_all_ = next_input_ == evaluations_.size();
    for (auto& response : out) pending_.push_back(std::move(response));
  }
  Advance();
}

void EvaluateReactor::FinishInput(
    std::vector<std::unique_ptr<v1::EvaluateResponse>>* out) {
  const Evaluation& evaluation = evaluations_[next_input_];
  if (evaluation.mode() == Mode::kBackward) {
    out->push_back(std::make_unique<v1::EvaluateResponse>());
    v1::ParameterGradients* grads = out->back()->mutable_parameter_gradients();
    grads->set_input_index(static_cast<int32_t>(next_input_));
    for (const ParameterGradient& grad : param_grads_) {
      ParameterGradientToProto(grad, evaluation.dtype(),
                               grads->add_gradients());
    }
  }
  ++next_input_;
  next_unit_ = 0;
  if (next_input_ < evaluations_.size()) {
    param_grads_ = evaluations_[next_input_].NewParameterGradients();
    return;
  }
  out->push_back(std::make_unique<v1::EvaluateResponse>());
  v1::EvaluateSummary* summary = out->back()->mutable_summary();
  summary->set_inputs(static_cast<int64_t>(evaluations_.size()));
  for (const Evaluation& e : evaluations_) {
    summary->set_input_elements(summary->input_elements() + e.input_elements());
    summary->set_output_elements(summary->output_elements() +
                                 e.output_elements());
  }
  summary->set_compute_micros(absl::ToInt64Microseconds(compute_time_));
}

void EvaluateReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    pending_.pop_front();
    // A failed write means the call is gone (cancelled or broken).
    if (!ok) cancelled_ = true;
  }
  Advance();
}

void EvaluateReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  Advance();
}

void EvaluateReactor::Advance() {
  const v1::EvaluateResponse* write = nullptr;
  bool compute = false;
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    cancelled_ = cancelled_ || context_->IsCancelled();
    const bool stopping = cancelled_ || !status_.ok();
    if (!stopping && !writing_ && !pending_.empty()) {
      writing_ = true;
      write = pending_.front().get();
      log_.AddResponseBytes(write->ByteSizeLong());
    }
    if (!stopping && !computing_ && !computed_all_ &&
        pending_.size() < kMaxPendingResponses) {
      computing_ = compute = true;
    }
    // The call may only end once nothing still uses this reactor.
    if (!computing_ && !writing_ &&
        (stopping || (computed_all_ && pending_.empty()))) {
      finished_ = true;
      finish =
          cancelled_ ? CancelledCallStatus(*context_) : ToGrpcStatus(status_);
      log_.Write(*finish);
    }
  }
  if (write != nullptr) StartWrite(write);
  if (compute) ThreadPool::Shared().Schedule([this] { ComputeNextPiece(); });
  if (finish.has_value()) Finish(*std::move(finish));
}

}  // namespace actserve
