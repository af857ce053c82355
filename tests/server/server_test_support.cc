#include "tests/server/server_test_support.h"

#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <utility>

#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"

namespace actserve::testing {

ActivationServer* SharedServerTest::server_ = nullptr;
v1::ActivationService::Stub* SharedServerTest::stub_ = nullptr;

void SharedServerTest::SetUpTestSuite() { StartSharedServer(TestConfig()); }

void SharedServerTest::StartSharedServer(ServerConfig config) {
  server_ = StartServer(std::move(config)).release();
  stub_ = InProcessStub(*server_).release();
}

void SharedServerTest::TearDownTestSuite() {
  delete stub_;
  delete server_;
  stub_ = nullptr;
  server_ = nullptr;
}

ServerConfig TestConfig() {
  ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.shutdown_grace = absl::Seconds(5);
  return config;
}

std::unique_ptr<ActivationServer> StartServer(ServerConfig config) {
  absl::StatusOr<std::unique_ptr<ActivationServer>> server =
      ActivationServer::Start(std::move(config));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

grpc::ChannelArguments ClientArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return args;
}

std::unique_ptr<v1::ActivationService::Stub> InProcessStub(
    ActivationServer& server) {
  return v1::ActivationService::NewStub(server.InProcessChannel(ClientArgs()));
}

std::shared_ptr<grpc::Channel> SocketChannel(const ActivationServer& server) {
  return grpc::CreateCustomChannel(
      server.address(), grpc::InsecureChannelCredentials(), ClientArgs());
}

std::string RandomData(DType dtype, int64_t elements, uint32_t seed,
                       double scale) {
  // memcpy from an empty vector's null data() is undefined (UBSan).
  if (elements == 0) return "";
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-scale, scale);
  std::vector<double> values(static_cast<size_t>(elements));
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = i % 17 == 5 ? 0.0 : uniform(rng);
  }
  std::string data(values.size() * ItemSize(dtype), '\0');
  switch (dtype) {
    case DType::kFloat64:
      std::memcpy(data.data(), values.data(), data.size());
      break;
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kBFloat16: {
      std::vector<float> floats(values.begin(), values.end());
      if (dtype == DType::kFloat32) {
        std::memcpy(data.data(), floats.data(), data.size());
      } else {
        NarrowFromFloat32(dtype, floats.data(), data.data(), floats.size());
      }
      break;
    }
  }
  return data;
}

int64_t Product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

v1::Tensor MakeTensor(DType dtype, const std::vector<int64_t>& shape,
                      uint32_t seed) {
  v1::Tensor tensor;
  tensor.mutable_shape()->Assign(shape.begin(), shape.end());
  tensor.set_dtype(static_cast<v1::DType>(static_cast<int>(dtype) + 1));
  tensor.set_data(RandomData(dtype, Product(shape), seed));
  return tensor;
}

v1::ActivationSpec MakeSpec(absl::string_view name,
                            const ActivationParams& params) {
  v1::ActivationSpec spec;
  spec.set_name(std::string(name));
  if (params.alpha) spec.set_alpha(*params.alpha);
  if (params.beta) spec.set_beta(*params.beta);
  if (params.axis) spec.set_axis(*params.axis);
  if (params.pieces) spec.set_pieces(*params.pieces);
  if (params.min) spec.set_min(*params.min);
  if (params.max) spec.set_max(*params.max);
  if (params.threshold) spec.set_threshold(*params.threshold);
  if (!params.channel_alpha.empty()) {
    v1::Tensor* alpha = spec.mutable_channel_alpha();
    alpha->add_shape(static_cast<int64_t>(params.channel_alpha.size()));
    alpha->set_dtype(v1::DTYPE_FLOAT64);
    alpha->set_data(params.channel_alpha.data(),
                    params.channel_alpha.size() * sizeof(double));
  }
  return spec;
}

Evaluation CreateEvaluation(const EvaluationRequest& request) {
  absl::StatusOr<Evaluation> evaluation = Evaluation::Create(request);
  EXPECT_TRUE(evaluation.ok()) << evaluation.status();
  return *std::move(evaluation);
}

Expected ComputeLocally(const Evaluation& evaluation, const std::string& x,
                        const std::string& grad_output) {
  const size_t item_size = ItemSize(evaluation.dtype());
  Expected expected;
  expected.output.resize(static_cast<size_t>(evaluation.output_elements()) *
                         item_size);
  std::vector<ParameterGradient> grads = evaluation.NewParameterGradients();
  const bool backward = evaluation.mode() == Mode::kBackward;
  absl::Status status =
      evaluation.RunAll(x.data(), backward ? grad_output.data() : nullptr,
                        expected.output.data(), &grads);
  EXPECT_TRUE(status.ok()) << status;
  for (const ParameterGradient& grad : grads) {
    v1::ParameterGradient& proto = expected.param_grads.emplace_back();
    proto.set_name(grad.name);
    v1::Tensor* tensor = proto.mutable_gradient();
    tensor->mutable_shape()->Assign(grad.shape.begin(), grad.shape.end());
    tensor->set_dtype(
        static_cast<v1::DType>(static_cast<int>(evaluation.dtype()) + 1));
    std::string data(grad.values.size() * item_size, '\0');
    EncodeFromDouble(evaluation.dtype(), grad.values, data.data());
    tensor->set_data(data);
  }
  return expected;
}

namespace {

// Turns a hang into a failure; no test call comes near it.
std::chrono::system_clock::time_point GuardDeadline() {
  return std::chrono::system_clock::now() + std::chrono::minutes(2);
}

size_t ItemSizeOf(v1::DType dtype) {
  return dtype == v1::DTYPE_FLOAT64                                  ? 8
         : dtype == v1::DTYPE_FLOAT16 || dtype == v1::DTYPE_BFLOAT16 ? 2
                                                                     : 4;
}

// Checks one output chunk against what came before (see EvaluateResult).
void AddChunk(const v1::OutputChunk& chunk, int64_t chunk_bytes,
              std::vector<v1::TensorHeader>* headers,
              std::vector<std::string>* outputs, bool keep_data) {
  const size_t index = static_cast<size_t>(chunk.input_index());
  if (index == headers->size()) {
    ASSERT_TRUE(chunk.has_header()) << "first chunk of output " << index;
    ASSERT_EQ(chunk.element_offset(), 0);
    headers->push_back(chunk.header());
    outputs->emplace_back();
  } else {
    ASSERT_EQ(index + 1, headers->size()) << "outputs arrive in order";
    EXPECT_FALSE(chunk.has_header()) << "header only on the first chunk";
  }
  const size_t item_size = ItemSizeOf(headers->back().dtype());
  EXPECT_EQ(chunk.data().size() % item_size, 0u) << "whole elements";
  EXPECT_LE(static_cast<int64_t>(chunk.data().size()), chunk_bytes);
  if (keep_data) {
    EXPECT_EQ(chunk.element_offset() * item_size, outputs->back().size());
    outputs->back().append(chunk.data());
  }
}

}  // namespace

EvaluateResult CallEvaluate(v1::ActivationService::Stub& stub,
                            const v1::EvaluateRequest& request,
                            int64_t chunk_bytes, grpc::ClientContext* context) {
  grpc::ClientContext default_context;
  default_context.set_deadline(GuardDeadline());
  if (context == nullptr) context = &default_context;
  EvaluateResult result;
  std::unique_ptr<grpc::ClientReader<v1::EvaluateResponse>> reader =
      stub.Evaluate(context, request);
  v1::EvaluateResponse response;
  while (reader->Read(&response)) {
    EXPECT_FALSE(result.summary.has_value()) << "the summary comes last";
    switch (response.payload_case()) {
      case v1::EvaluateResponse::kChunk:
        ++result.chunks;
        AddChunk(response.chunk(), chunk_bytes, &result.headers,
                 &result.outputs, /*keep_data=*/true);
        break;
      case v1::EvaluateResponse::kParameterGradients: {
        const v1::ParameterGradients& grads = response.parameter_gradients();
        EXPECT_EQ(static_cast<size_t>(grads.input_index()) + 1,
                  result.headers.size());
        result.param_grads.emplace_back(grads.gradients().begin(),
                                        grads.gradients().end());
        break;
      }
      case v1::EvaluateResponse::kSummary:
        result.summary = response.summary();
        break;
      case v1::EvaluateResponse::PAYLOAD_NOT_SET:
        ADD_FAILURE() << "empty response";
        break;
    }
  }
  result.status = reader->Finish();
  if (result.status.ok()) {
    for (size_t i = 0; i < result.outputs.size(); ++i) {
      std::vector<int64_t> shape(result.headers[i].shape().begin(),
                                 result.headers[i].shape().end());
      EXPECT_EQ(result.outputs[i].size(),
                Product(shape) * ItemSizeOf(result.headers[i].dtype()))
          << "output " << i << " is complete";
    }
  }
  return result;
}

StreamResult CallEvaluateStream(v1::ActivationService::Stub& stub,
                                NextRequest next, grpc::ClientContext* context,
                                ChunkSink on_chunk) {
  grpc::ClientContext default_context;
  default_context.set_deadline(GuardDeadline());
  if (context == nullptr) context = &default_context;
  StreamResult result;
  auto stream = stub.EvaluateStream(context);
  std::thread reader([&] {
    v1::EvaluateStreamResponse response;
    while (stream->Read(&response)) {
      if (response.has_chunk()) {
        const v1::OutputChunk& chunk = response.chunk();
        // Stream chunks may be as large as the server's maximum.
        AddChunk(chunk, int64_t{1} << 30, &result.headers, &result.outputs,
                 on_chunk == nullptr);
        if (on_chunk) on_chunk(chunk);
      } else if (response.has_done()) {
        EXPECT_EQ(static_cast<size_t>(response.done().tensor_index()) + 1,
                  result.headers.size());
        result.done.push_back(response.done());
      } else {
        ADD_FAILURE() << "empty response";
      }
    }
  });
  v1::EvaluateStreamRequest request;
  while (next(&request)) {
    if (!stream->Write(request)) break;  // the server ended the call
    request.Clear();
  }
  stream->WritesDone();
  reader.join();
  result.status = stream->Finish();
  return result;
}

StreamResult CallEvaluateStream(
    v1::ActivationService::Stub& stub,
    const std::vector<v1::EvaluateStreamRequest>& requests) {
  size_t i = 0;
  return CallEvaluateStream(stub, [&](v1::EvaluateStreamRequest* request) {
    if (i == requests.size()) return false;
    *request = requests[i++];
    return true;
  });
}

std::vector<v1::EvaluateStreamRequest> StreamMessages(
    const v1::StreamHeader& header, const std::string& x,
    const std::string& grad_output, int64_t x_piece, int64_t grad_piece) {
  const size_t item_size = ItemSizeOf(header.dtype());
  const size_t x_step = x_piece > 0 ? x_piece * item_size : x.size();
  const size_t grad_step =
      grad_piece > 0 ? grad_piece * item_size : grad_output.size();
  std::vector<v1::EvaluateStreamRequest> messages(1);
  *messages[0].mutable_header() = header;
  size_t x_done = 0, grad_done = 0;
  while (x_done < x.size() || grad_done < grad_output.size()) {
    v1::StreamData* data = messages.emplace_back().mutable_data();
    if (x_done < x.size()) {
      data->set_x_offset(static_cast<int64_t>(x_done / item_size));
      data->set_x(x.substr(x_done, x_step));
      x_done += data->x().size();
    }
    if (grad_done < grad_output.size()) {
      data->set_grad_offset(static_cast<int64_t>(grad_done / item_size));
      data->set_grad_output(grad_output.substr(grad_done, grad_step));
      grad_done += data->grad_output().size();
    }
  }
  return messages;
}

DrainedStream DrainFloat32Stream(
    grpc::ClientReaderWriter<v1::EvaluateStreamRequest,
                             v1::EvaluateStreamResponse>& stream,
    const std::string& want) {
  DrainedStream drained;
  v1::EvaluateStreamResponse response;
  while (stream.Read(&response)) {
    if (response.has_chunk()) {
      const v1::OutputChunk& chunk = response.chunk();
      drained.matches =
          drained.matches &&
          chunk.data() ==
              want.substr(static_cast<size_t>(chunk.element_offset()) * 4,
                          chunk.data().size());
      drained.elements += static_cast<int64_t>(chunk.data().size()) / 4;
    }
    drained.done = drained.done || response.has_done();
  }
  drained.status = stream.Finish();
  return drained;
}

RawCallResult RawCall(const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& method,
                      const std::vector<std::string>& messages) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(GuardDeadline());
  auto call = stub.PrepareCall(&context, method, &queue);
  // Each step waits for its own completion: one operation at a time.
  const auto step = [&queue](auto start) {
    start();
    void* tag;
    bool ok = false;
    return queue.Next(&tag, &ok) && ok;
  };
  RawCallResult result;
  EXPECT_TRUE(step([&] { call->StartCall(nullptr); }));
  bool open = true;
  for (const std::string& message : messages) {
    grpc::Slice slice(message);
    grpc::ByteBuffer bytes(&slice, 1);
    open = step([&] { call->Write(bytes, nullptr); });
    if (!open) break;
  }
  if (open) step([&] { call->WritesDone(nullptr); });
  grpc::ByteBuffer response;
  while (step([&] { call->Read(&response, nullptr); })) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string& bytes = result.responses.emplace_back();
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  EXPECT_TRUE(step([&] { call->Finish(&result.status, nullptr); }));
  call.reset();
  queue.Shutdown();
  void* tag;
  bool ok;
  while (queue.Next(&tag, &ok)) {
  }
  return result;
}

}  // namespace actserve::testing
