#include "client/evaluate_call.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/status_conversion.h"
#include "client/tensor.h"
#include "grpcpp/client_context.h"

namespace actserve::client {
namespace {

constexpr int64_t kDefaultChunkBytes = 1 << 20;

int64_t RequestBytes(const EvaluationRequest& request) {
  return request.input.data.size() +
         (request.grad_output ? request.grad_output->data.size() : 0);
}

v1::Tensor ToTensor(const TensorView& view) {
  v1::Tensor tensor;
  tensor.mutable_shape()->Add(view.shape.begin(), view.shape.end());
  tensor.set_dtype(view.dtype);
  tensor.set_data(view.data.data(), view.data.size());
  return tensor;
}

// Reports bytes to `progress` as they move; a null `progress` ignores them.
class ProgressCounter {
 public:
  explicit ProgressCounter(TransferProgress* progress) : progress_(progress) {}
  void Expect(int64_t bytes) {
    if (progress_ != nullptr) progress_->AddExpected(bytes);
  }
  void Moved(int64_t bytes) {
    if (progress_ != nullptr) progress_->AddTransferred(bytes);
  }

 private:
  TransferProgress* progress_;
};

// Gathers what either RPC sends back for the one tensor of a request.
class ResultCollector {
 public:
  ResultCollector(ProgressCounter& counter, bool streamed,
                  const OutputAllocator& allocate)
      : counter_(counter), output_(allocate) {
    result_.streamed = streamed;
  }

  // Fails on a chunk that breaks the protocol; the call should then stop.
  absl::Status AddChunk(const v1::OutputChunk& chunk) {
    if (chunk.input_index() != 0) {
      return absl::InternalError(
          "the server answered for a tensor that was not sent");
    }
    absl::Status status = output_.Add(chunk);
    if (!status.ok()) return status;
    if (chunk.has_header()) counter_.Expect(output_.expected_bytes());
    counter_.Moved(chunk.data().size());
    return absl::OkStatus();
  }

  void AddGradients(
      google::protobuf::RepeatedPtrField<v1::ParameterGradient>* gradients) {
    for (v1::ParameterGradient& gradient : *gradients) {
      result_.parameter_gradients.push_back(std::move(gradient));
    }
  }

  void SetComputeMicros(int64_t micros) { result_.compute_micros = micros; }

  // The result, or the first thing that went wrong: a protocol error seen
  // here (which cancelled the call), the call's status, a missing output.
  absl::StatusOr<EvaluationResult> Finish(const absl::Status& protocol_error,
                                          const absl::Status& call_status) {
    if (!protocol_error.ok()) return protocol_error;
    if (!call_status.ok()) return call_status;
    absl::Status status = output_.Finish();
    if (!status.ok()) return status;
    result_.output = std::move(output_.tensor());
    return std::move(result_);
  }

 private:
  ProgressCounter& counter_;
  ChunkAssembler output_;
  EvaluationResult result_;
};

absl::StatusOr<EvaluationResult> EvaluateUnary(
    v1::ActivationService::StubInterface& stub,
    const EvaluationRequest& request, const TransferOptions& options) {
  v1::EvaluateRequest message;
  *message.mutable_activation() = request.activation;
  message.set_mode(request.mode);
  *message.add_inputs() = ToTensor(request.input);
  if (request.grad_output) {
    *message.add_grad_outputs() = ToTensor(*request.grad_output);
  }
  message.set_chunk_bytes(options.chunk_bytes);

  ProgressCounter counter(options.progress);
  counter.Expect(RequestBytes(request));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  std::unique_ptr<grpc::ClientReaderInterface<v1::EvaluateResponse>> reader =
      stub.Evaluate(&context, message);

  ResultCollector collector(counter, /*streamed=*/false,
                            options.output_allocator);
  absl::Status protocol_error;
  bool request_counted = false;
  v1::EvaluateResponse response;
  while (protocol_error.ok() && reader->Read(&response)) {
    if (!request_counted) {
      // A unary request moves as a whole: it has arrived once an answer does.
      counter.Moved(RequestBytes(request));
      request_counted = true;
    }
    switch (response.payload_case()) {
      case v1::EvaluateResponse::kChunk:
        protocol_error = collector.AddChunk(response.chunk());
        break;
      case v1::EvaluateResponse::kParameterGradients:
        collector.AddGradients(
            response.mutable_parameter_gradients()->mutable_gradients());
        break;
      case v1::EvaluateResponse::kSummary:
        collector.SetComputeMicros(response.summary().compute_micros());
        break;
      default:
        break;  // A payload newer than this client: nothing to do with it.
    }
  }
  if (!protocol_error.ok()) context.TryCancel();
  return collector.Finish(protocol_error, FromGrpcStatus(reader->Finish()));
}

// Sends the header, then x (and grad_output, split at the same fraction so
// the server can compute as they arrive) in messages of about chunk_bytes.
void WriteStream(
    grpc::ClientReaderWriterInterface<v1::EvaluateStreamRequest,
                                      v1::EvaluateStreamResponse>& stream,
    const EvaluationRequest& request, const TransferOptions& options,
    ProgressCounter& counter) {
  v1::EvaluateStreamRequest message;
  v1::StreamHeader& header = *message.mutable_header();
  *header.mutable_activation() = request.activation;
  header.set_mode(request.mode);
  header.mutable_shape()->Add(request.input.shape.begin(),
                              request.input.shape.end());
  header.set_dtype(request.input.dtype);
  header.set_chunk_bytes(options.chunk_bytes);
  if (!stream.Write(message)) return;

  const int64_t item_size = ItemSize(request.input.dtype);
  const int64_t x_elements = request.input.data.size() / item_size;
  const int64_t grad_elements =
      request.grad_output ? request.grad_output->data.size() / item_size : 0;
  const int64_t chunk_elements = std::max<int64_t>(
      1, (options.chunk_bytes > 0 ? options.chunk_bytes : kDefaultChunkBytes) /
             item_size);
  // An empty input still needs one data message to mark it complete.
  int64_t x_begin = 0;
  do {
    const int64_t x_end = std::min(x_elements, x_begin + chunk_elements);
    message.Clear();
    v1::StreamData& data = *message.mutable_data();
    data.set_x_offset(x_begin);
    const absl::string_view x = request.input.data.substr(
        x_begin * item_size, (x_end - x_begin) * item_size);
    data.set_x(x.data(), x.size());
    if (request.grad_output) {
      const int64_t grad_begin =
          x_elements > 0 ? grad_elements * x_begin / x_elements : 0;
      const int64_t grad_end =
          x_elements > 0 ? grad_elements * x_end / x_elements : grad_elements;
      data.set_grad_offset(grad_begin);
      const absl::string_view grad = request.grad_output->data.substr(
          grad_begin * item_size, (grad_end - grad_begin) * item_size);
      data.set_grad_output(grad.data(), grad.size());
    }
    const int64_t bytes = data.x().size() + data.grad_output().size();
    if (!stream.Write(message)) return;  // Finish() will say why.
    counter.Moved(bytes);
    x_begin = x_end;
  } while (x_begin < x_elements);
  stream.WritesDone();
}

absl::StatusOr<EvaluationResult> EvaluateStreaming(
    v1::ActivationService::StubInterface& stub,
    const EvaluationRequest& request, const TransferOptions& options) {
  if (ItemSize(request.input.dtype) == 0) {
    return absl::InvalidArgumentError("the input has no dtype");
  }
  ProgressCounter counter(options.progress);
  counter.Expect(RequestBytes(request));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  std::unique_ptr<grpc::ClientReaderWriterInterface<v1::EvaluateStreamRequest,
                                                    v1::EvaluateStreamResponse>>
      stream = stub.EvaluateStream(&context);

  // The server answers while it still reads, so writing and reading must
  // overlap, or both sides would wait on full flow-control windows.
  std::thread writer([&] { WriteStream(*stream, request, options, counter); });

  ResultCollector collector(counter, /*streamed=*/true,
                            options.output_allocator);
  absl::Status protocol_error;
  v1::EvaluateStreamResponse response;
  while (protocol_error.ok() && stream->Read(&response)) {
    switch (response.payload_case()) {
      case v1::EvaluateStreamResponse::kChunk:
        protocol_error = collector.AddChunk(response.chunk());
        break;
      case v1::EvaluateStreamResponse::kDone:
        collector.SetComputeMicros(response.done().compute_micros());
        collector.AddGradients(
            response.mutable_done()->mutable_parameter_gradients());
        break;
      default:
        break;  // A payload newer than this client: nothing to do with it.
    }
  }
  // Cancelling unblocks a writer stuck on a call that will not finish well.
  if (!protocol_error.ok()) context.TryCancel();
  writer.join();
  return collector.Finish(protocol_error, FromGrpcStatus(stream->Finish()));
}

}  // namespace

absl::StatusOr<EvaluationResult> Evaluate(
    v1::ActivationService::StubInterface& stub,
    const EvaluationRequest& request, const TransferOptions& options) {
  if (RequestBytes(request) > options.stream_threshold_bytes) {
    return EvaluateStreaming(stub, request, options);
  }
  return EvaluateUnary(stub, request, options);
}

}  // namespace actserve::client
