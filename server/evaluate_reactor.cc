#include "server/evaluate_reactor.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/thread_pool.h"
#include "server/evaluate_plan.h"
#include "server/message_bytes.h"
#include "server/output_chunker.h"
#include "server/proto_conversion.h"
#include "server/status_conversion.h"

namespace actserve {

EvaluateReactor::EvaluateReactor(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 const ServerConfig& config,
                                 StreamLimiter::Permit permit, CallLog log)
    : context_(context),
      permit_(std::move(permit)),
      request_(*google::protobuf::Arena::CreateMessage<v1::EvaluateRequest>(
          &arena_)),
      log_(std::move(log)) {
  absl::Status status = Prepare(*request, config);
  {
    absl::MutexLock lock(&mu_);
    status_ = status;
  }
  Advance();
}

absl::Status EvaluateReactor::Prepare(const grpc::ByteBuffer& request,
                                      const ServerConfig& config) {
  grpc::ByteBuffer bytes(request);
  absl::Status parsed = ParseRequest(bytes, &request_);
  if (!parsed.ok()) return parsed;
  log_.set_activation(request_.activation().name());
  absl::StatusOr<EvaluatePlan> plan = PlanEvaluate(request_, config);
  if (!plan.ok()) return plan.status();
  chunk_bytes_ = plan->chunk_bytes;
  evaluations_ = std::move(plan->evaluations);
  log_.set_mode(evaluations_.front().mode());
  for (const Evaluation& evaluation : evaluations_) {
    log_.AddTensor(evaluation.input_elements());
  }
  param_grads_ = evaluations_.front().NewParameterGradients();
  return absl::OkStatus();
}

void EvaluateReactor::ComputeNextPiece() {
  std::vector<v1::EvaluateResponse> out;
  auto add_chunk = [&out] { return out.emplace_back().mutable_chunk(); };
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
  if (!status.ok()) {
    status = WithContext(absl::StrCat("inputs[", next_input_, "]"), status);
  }
  // Serialized here on the pool rather than on a gRPC thread.
  std::vector<grpc::ByteBuffer> serialized;
  if (status.ok()) status = SerializeResponses(out, &serialized);

  {
    absl::MutexLock lock(&mu_);
    if (!status.ok()) status_ = status;
    computed_all_ = next_input_ == evaluations_.size();
    for (grpc::ByteBuffer& bytes : serialized) pending_.push_back(bytes);
  }
  // computing_ stays set until Advance takes the lock again: until then this
  // task still uses the reactor, and the call must not finish.
  Advance(/*compute_done=*/true);
}

void EvaluateReactor::FinishInput(std::vector<v1::EvaluateResponse>* out) {
  const Evaluation& evaluation = evaluations_[next_input_];
  if (evaluation.mode() == Mode::kBackward) {
    v1::ParameterGradients* grads =
        out->emplace_back().mutable_parameter_gradients();
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
  v1::EvaluateSummary* summary = out->emplace_back().mutable_summary();
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

void EvaluateReactor::Advance(bool compute_done) {
  const grpc::ByteBuffer* write = nullptr;
  bool compute = false;
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    if (compute_done) computing_ = false;
    if (finished_) return;
    cancelled_ = cancelled_ || context_->IsCancelled();
    const bool stopping = cancelled_ || !status_.ok();
    if (!stopping && !writing_ && !pending_.empty()) {
      writing_ = true;
      write = &pending_.front();
      log_.AddResponseBytes(write->Length());
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
  if (finish.has_value()) {
    permit_.Release();
    Finish(*std::move(finish));
  }
}

}  // namespace actserve
