#ifndef ACTSERVE_TESTS_SERVER_SERVER_TEST_SUPPORT_H_
#define ACTSERVE_TESTS_SERVER_SERVER_TEST_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "actserve/v1/actserve.grpc.pb.h"
#include "core/evaluation.h"
#include "gtest/gtest.h"
#include "server/activation_server.h"
#include "server/server_config.h"

// Shared by the server tests: starting servers, building requests, running
// calls and computing the expected results with the core directly.
namespace actserve::testing {

// A fixture whose tests share one in-process server, started for the suite
// (a suite that needs other limits starts its own in SetUpTestSuite).
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  static void StartSharedServer(ServerConfig config);

  static v1::ActivationService::Stub* stub_;

 private:
  static ActivationServer* server_;
};

// A config for tests: a free port on loopback.
ServerConfig TestConfig();
std::unique_ptr<ActivationServer> StartServer(ServerConfig config);

// Clients default to a 4 MiB receive limit; tests lift it.
grpc::ChannelArguments ClientArgs();
std::unique_ptr<v1::ActivationService::Stub> InProcessStub(
    ActivationServer& server);
// Over the server's socket. Tests of shutdown need it: gRPC 1.51 crashes
// creating a call on an in-process channel whose server is shutting down.
std::shared_ptr<grpc::Channel> SocketChannel(const ActivationServer& server);

// Deterministic pseudo-random elements spread over [-scale, scale], with a
// few exact zeros, of any dtype.
std::string RandomData(DType dtype, int64_t elements, uint32_t seed,
                       double scale = 8.0);
v1::Tensor MakeTensor(DType dtype, const std::vector<int64_t>& shape,
                      uint32_t seed);
v1::ActivationSpec MakeSpec(absl::string_view name,
                            const ActivationParams& params = {});
int64_t Product(const std::vector<int64_t>& shape);

// What the core computes locally for one tensor.
struct Expected {
  std::string output;
  std::vector<v1::ParameterGradient> param_grads;  // backward only
};
Expected ComputeLocally(const Evaluation& evaluation, const std::string& x,
                        const std::string& grad_output);
// Creates the evaluation or fails the test.
Evaluation CreateEvaluation(const EvaluationRequest& request);

// An Evaluate call, collected. Checks the chunking contract on the way:
// outputs in order, contiguous offsets, a header on each output's first chunk
// only, whole elements, at most chunk_bytes each.
struct EvaluateResult {
  grpc::Status status;
  std::vector<v1::TensorHeader> headers;
  std::vector<std::string> outputs;
  std::vector<std::vector<v1::ParameterGradient>> param_grads;
  std::optional<v1::EvaluateSummary> summary;
  int chunks = 0;
};
EvaluateResult CallEvaluate(v1::ActivationService::Stub& stub,
                            const v1::EvaluateRequest& request,
                            int64_t chunk_bytes,
                            grpc::ClientContext* context = nullptr);

// An EvaluateStream call: `next` fills the next request message and returns
// false when there are no more. Responses are read on another thread while
// messages are written, as a real client must (the server stops reading when
// results pile up). `on_chunk` sees each output chunk instead of the outputs
// being kept, for tensors too large to hold.
struct StreamResult {
  grpc::Status status;
  std::vector<v1::TensorHeader> headers;
  std::vector<std::string> outputs;  // per tensor, unless on_chunk is given
  std::vector<v1::StreamTensorDone> done;
};
using NextRequest = absl::FunctionRef<bool(v1::EvaluateStreamRequest*)>;
using ChunkSink = std::function<void(const v1::OutputChunk&)>;
StreamResult CallEvaluateStream(v1::ActivationService::Stub& stub,
                                NextRequest next,
                                grpc::ClientContext* context = nullptr,
                                ChunkSink on_chunk = nullptr);
StreamResult CallEvaluateStream(
    v1::ActivationService::Stub& stub,
    const std::vector<v1::EvaluateStreamRequest>& requests);

// One tensor on a stream: its header, then data messages carrying
// `x_piece` and `grad_piece` elements at a time (0: all at once).
std::vector<v1::EvaluateStreamRequest> StreamMessages(
    const v1::StreamHeader& header, const std::string& x,
    const std::string& grad_output, int64_t x_piece, int64_t grad_piece);

// Reads an EvaluateStream call of float32 results to its end: the elements
// its chunks carried, whether each chunk equals `want` (the whole output's
// bytes) at its offset, whether StreamTensorDone came, and the status.
struct DrainedStream {
  int64_t elements = 0;
  bool matches = true;
  bool done = false;
  grpc::Status status;
};
DrainedStream DrainFloat32Stream(
    grpc::ClientReaderWriter<v1::EvaluateStreamRequest,
                             v1::EvaluateStreamResponse>& stream,
    const std::string& want);

// A call sent as raw bytes, which need not be valid protobuf: each of
// `messages` in turn (until the server ends the call), then the half-close;
// then every response the server sent, undecoded, and the status. `method`
// is the full path, e.g. "/actserve.v1.ActivationService/Evaluate". For
// calls with few responses: they are read only after all messages are sent.
struct RawCallResult {
  grpc::Status status;
  std::vector<std::string> responses;
};
RawCallResult RawCall(const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& method,
                      const std::vector<std::string>& messages);

}  // namespace actserve::testing

#endif  // ACTSERVE_TESTS_SERVER_SERVER_TEST_SUPPORT_H_
