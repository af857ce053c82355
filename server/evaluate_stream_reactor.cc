#include "server/evaluate_stream_reactor.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/thread_pool.h"
#include "server/message_bytes.h"
#include "server/proto_conversion.h"
#include "server/status_conversion.h"

namespace actserve {

EvaluateStreamReactor::Tensor::Tensor(int32_t index, Evaluation evaluation,
                                      int64_t chunk_bytes,
                                      int64_t max_message_bytes)
    : index(index),
      evaluation(std::move(evaluation)),
      chunker(this->evaluation, chunk_bytes, index),
      assembler(
          NothingToCompute(this->evaluation) ? 0 : this->evaluation.units(),
          this->evaluation.input_unit(),
          this->evaluation.mode() == Mode::kBackward
              ? this->evaluation.grad_unit()
              : 0,
          ItemSize(this->evaluation.dtype()),
          // Two pieces of both inputs and one largest message may wait for
          // the other input: bounded by the message size, not the tensor's.
          static_cast<size_t>(
              2 * chunker.units_per_piece() *
                  (this->evaluation.input_unit() +
                   this->evaluation.grad_unit()) *
                  static_cast<int64_t>(ItemSize(this->evaluation.dtype())) +
              max_message_bytes)),
      param_grads(this->evaluation.NewParameterGradients()) {}

EvaluateStreamReactor::EvaluateStreamReactor(
    grpc::CallbackServerContext* context, const ServerConfig& config,
    StreamLimiter::Permit permit, CallLog log)
    : context_(context),
      config_(config),
      permit_(std::move(permit)),
      log_(std::move(log)) {
  Advance();
}

void EvaluateStreamReactor::OnReadDone(bool ok) {
  // Parsed outside the lock: until reading_ is cleared below, nothing else
  // touches read_buffer_ or request_.
  const size_t bytes = read_buffer_.Length();
  absl::Status parsed;
  if (ok) parsed = ParseRequest(read_buffer_, &request_);
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (ok) {
      log_.AddRequestBytes(bytes);
      // A message that does not parse is an error in its turn, after the
      // messages before it: never skipped, never taken for the end.
      request_status_ = WithContext(
          absl::StrCat("stream message ", messages_read_++), parsed);
      message_waiting_ = true;
    } else {
      // The client closed its side (or the call is gone).
      reads_done_ = true;
      if (tensor_ != nullptr && !tensor_->assembler.all_received() &&
          status_.ok()) {
        status_ = absl::FailedPreconditionError(absl::StrCat(
            "the stream ended in the middle of tensor ", tensor_->index,
            "; send all of its data before closing"));
      }
    }
  }
  Advance();
}

void EvaluateStreamReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    pending_.pop_front();
    // A failed write means the call is gone (cancelled or broken).
    if (!ok) cancelled_ = true;
  }
  Advance();
}

void EvaluateStreamReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  Advance();
}

void EvaluateStreamReactor::ProcessMessage() {
  if (!request_status_.ok()) {
    status_ = request_status_;
    message_waiting_ = false;
    return;
  }
  switch (request_.payload_case()) {
    case v1::EvaluateStreamRequest::kHeader:
      status_ = StartTensor(request_.header());
      break;
    case v1::EvaluateStreamRequest::kData: {
      v1::StreamData* data = request_.mutable_data();
      if (tensor_ == nullptr && next_tensor_index_ == 0) {
        status_ = absl::FailedPreconditionError(
            "data: no tensor in progress; send a StreamHeader first");
        break;
      }
      if (tensor_ == nullptr) {
        // Whether the previous tensor's last compute has finished is timing;
        // the error must not be, so this reads like the assembler's.
        status_ = absl::InvalidArgumentError(absl::StrCat(
            "data: tensor ", next_tensor_index_ - 1,
            " already has all the elements its header declared; start the "
            "next tensor with a StreamHeader"));
        break;
      }
      status_ = WithContext(
          absl::StrCat("tensor ", tensor_->index),
          tensor_->assembler.Append(
              data->x_offset(), std::move(*data->mutable_x()),
              data->grad_offset(), std::move(*data->mutable_grad_output())));
      break;
    }
    case v1::EvaluateStreamRequest::PAYLOAD_NOT_SET:
      status_ =
          absl::InvalidArgumentError("payload: set neither header nor data");
      break;
  }
  request_.Clear();
  message_waiting_ = false;
}

absl::Status EvaluateStreamReactor::StartTensor(
    const v1::StreamHeader& header) {
  const int32_t index = next_tensor_index_++;
  log_.set_activation(header.activation().name());
  absl::StatusOr<ActivationParams> params =
      ParamsFromProto(header.activation());
  if (!params.ok()) return WithContext("header.activation", params.status());
  absl::StatusOr<Mode> mode = ModeFromProto(header.mode());
  if (!mode.ok()) return WithContext("header", mode.status());
  log_.set_mode(*mode);
  absl::StatusOr<DType> dtype = DTypeFromProto(header.dtype());
  if (!dtype.ok()) return WithContext("header", dtype.status());
  absl::StatusOr<int64_t> elements = ElementCount(header.shape(), *dtype);
  if (!elements.ok()) return WithContext("header", elements.status());
  absl::StatusOr<int64_t> chunk_bytes =
      config_.chunk_sizes.Resolve(header.chunk_bytes());
  if (!chunk_bytes.ok()) return WithContext("header", chunk_bytes.status());
  EvaluationRequest request{
      header.activation().name(), *std::move(params), *mode, *dtype,
      std::vector<int64_t>(header.shape().begin(), header.shape().end())};
  absl::StatusOr<Evaluation> evaluation =
      Evaluation::Create(request, config_.limits);
  if (!evaluation.ok()) return WithContext("header", evaluation.status());

  log_.AddTensor(evaluation->input_elements());
  tensor_ = std::make_unique<Tensor>(index, *std::move(evaluation),
                                     *chunk_bytes, config_.max_message_bytes);
  if (NothingToCompute(tensor_->evaluation)) {
    std::vector<v1::EvaluateStreamResponse> out;
    tensor_->chunker.AddEmptyOutput(
        [&out] { return out.emplace_back().mutable_chunk(); });
    QueueResponses(out);
  }
  return absl::OkStatus();
}

void EvaluateStreamReactor::CompleteTensor() {
  std::vector<v1::EvaluateStreamResponse> out(1);
  v1::StreamTensorDone* done = out[0].mutable_done();
  const Evaluation& evaluation = tensor_->evaluation;
  done->set_tensor_index(tensor_->index);
  done->set_input_elements(evaluation.input_elements());
  done->set_output_elements(evaluation.output_elements());
  done->set_compute_micros(absl::ToInt64Microseconds(tensor_->compute_time));
  for (const ParameterGradient& grad : tensor_->param_grads) {
    ParameterGradientToProto(grad, evaluation.dtype(),
                             done->add_parameter_gradients());
  }
  QueueResponses(out);
  tensor_.reset();
}

void EvaluateStreamReactor::QueueResponses(
    const std::vector<v1::EvaluateStreamResponse>& responses) {
  std::vector<grpc::ByteBuffer> serialized;
  absl::Status status = SerializeResponses(responses, &serialized);
  if (!status.ok() && status_.ok()) status_ = status;
  for (grpc::ByteBuffer& bytes : serialized) pending_.push_back(bytes);
}

void EvaluateStreamReactor::Compute(ChunkAssembler::Piece piece) {
  // Only this task uses the tensor until computing_ is cleared; its pointer
  // is read under the lock that set computing_.
  Tensor* tensor;
  {
    absl::MutexLock lock(&mu_);
    tensor = tensor_.get();
  }
  std::vector<v1::EvaluateStreamResponse> out;
  const absl::Time start = absl::Now();
  absl::Status status = tensor->chunker.ComputePiece(
      piece.first_unit, piece.count, piece.x, piece.grad_output,
      &tensor->param_grads,
      [&out] { return out.emplace_back().mutable_chunk(); });
  tensor->compute_time += absl::Now() - start;
  if (!status.ok()) {
    status = WithContext(absl::StrCat("tensor ", tensor->index), status);
  }
  // Serialized here on the pool rather than on a gRPC thread.
  std::vector<grpc::ByteBuffer> serialized;
  if (status.ok()) status = SerializeResponses(out, &serialized);
  {
    absl::MutexLock lock(&mu_);
    if (!status.ok() && status_.ok()) status_ = status;
    for (grpc::ByteBuffer& bytes : serialized) pending_.push_back(bytes);
  }
  // computing_ stays set until Advance takes the lock again: until then this
  // task still uses the reactor, and the call must not finish.
  Advance(/*read_started=*/false, /*compute_done=*/true);
}

void EvaluateStreamReactor::Advance(bool read_started, bool compute_done) {
  const grpc::ByteBuffer* write = nullptr;
  std::optional<ChunkAssembler::Piece> compute;
  bool read = false;
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    if (read_started) --starting_reads_;
    if (compute_done) computing_ = false;
    if (finished_) return;
    cancelled_ = cancelled_ || context_->IsCancelled();
    // Messages and tensor boundaries are handled only while no compute
    // uses the tensor.
    while (status_.ok() && !cancelled_ && !computing_) {
      if (tensor_ != nullptr && tensor_->assembler.all_taken()) {
        CompleteTensor();
      } else if (message_waiting_ &&
                 request_.payload_case() ==
                     v1::EvaluateStreamRequest::kHeader &&
                 tensor_ != nullptr) {
        if (!tensor_->assembler.all_received()) {
          status_ = absl::FailedPreconditionError(absl::StrCat(
              "header: tensor ", tensor_->index,
              " has not received all its data yet; finish it before "
              "starting the next"));
        }
        break;  // The header waits until the tensor's last units are done.
      } else if (message_waiting_) {
        ProcessMessage();
      } else {
        break;
      }
    }

    const bool stopping = cancelled_ || !status_.ok();
    if (!stopping && !writing_ && !pending_.empty()) {
      writing_ = true;
      write = &pending_.front();
      log_.AddResponseBytes(write->Length());
    }
    // Whole pieces only (the last may be short): chunks come out full, and
    // pieces fall where Evaluate's do, so the results are the same.
    const int64_t ready =
        tensor_ != nullptr ? tensor_->assembler.ready_units() : 0;
    const bool piece_waiting =
        tensor_ != nullptr && ready >= tensor_->chunker.units_per_piece();
    const bool last_piece_waiting =
        ready > 0 && tensor_->assembler.all_received();
    if (!stopping && !computing_ && (piece_waiting || last_piece_waiting) &&
        pending_.size() < kMaxPendingResponses) {
      computing_ = true;
      compute = tensor_->assembler.Take(tensor_->chunker.units_per_piece());
    }
    // Read ahead only while less than a piece waits, so the buffer holds at
    // most a piece plus one message.
    const bool piece_still_waiting =
        tensor_ != nullptr &&
        tensor_->assembler.ready_units() >= tensor_->chunker.units_per_piece();
    if (!stopping && !reading_ && !reads_done_ && !message_waiting_ &&
        pending_.size() < kMaxPendingResponses && !piece_still_waiting) {
      reading_ = read = true;
      ++starting_reads_;
    }
    // The call may only end once no compute or write uses this reactor; an
    // outstanding read is cancelled by Finish.
    const bool drained = reads_done_ && !message_waiting_ &&
                         tensor_ == nullptr && pending_.empty();
    if (!computing_ && !writing_ && starting_reads_ == 0 &&
        (stopping || drained)) {
      finished_ = true;
      finish =
          cancelled_ ? CancelledCallStatus(*context_) : ToGrpcStatus(status_);
      log_.Write(*finish);
    }
  }
  if (write != nullptr) StartWrite(write);
  if (compute.has_value()) {
    ThreadPool::Shared().Schedule([this, piece = *compute] { Compute(piece); });
  }
  if (finish.has_value()) {
    permit_.Release();
    Finish(*std::move(finish));
  }
  if (read) {
    StartRead(&read_buffer_);
    // A finish another thread held back for this read may be due now.
    Advance(/*read_started=*/true);
  }
}

}  // namespace actserve
