// Evaluate request bytes: parse, the server's validation, the core's
// evaluation. Whatever the bytes, the call ends with an answer (OK or a
// client error naming the problem), and an OK call carries every output whole.
#include <cstddef>
#include <cstdint>
#include <string>

#include "actserve/v1/actserve.pb.h"
#include "tests/fuzz/fuzz_server.h"
#include "tests/fuzz/output_tally.h"
#include "tests/server/server_test_support.h"

namespace actserve::fuzzing {
namespace {

void EvaluateOnce(const uint8_t* data, size_t size) {
  v1::ActivationService::Stub& stub = FuzzStub();
  v1::EvaluateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) {
    // The server parses the bytes itself: what is not an EvaluateRequest
    // gets INVALID_ARGUMENT, never UNIMPLEMENTED or a result.
    const testing::RawCallResult raw = testing::RawCall(
        FuzzChannel(), "/actserve.v1.ActivationService/Evaluate",
        {std::string(reinterpret_cast<const char*>(data), size)});
    Require(raw.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
                raw.responses.empty(),
            "bytes that are not an EvaluateRequest get INVALID_ARGUMENT");
    return;
  }
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::EvaluateResponse>> reader =
      stub.Evaluate(&context, request);
  OutputTally tally;
  bool summarized = false;
  int gradients = 0;
  v1::EvaluateResponse response;
  while (reader->Read(&response)) {
    Require(!summarized, "the summary is the last message");
    switch (response.payload_case()) {
      case v1::EvaluateResponse::kChunk:
        tally.Add(response.chunk());
        break;
      case v1::EvaluateResponse::kParameterGradients:
        Require(response.parameter_gradients().input_index() == gradients++,
                "parameter gradients per input, in order");
        break;
      case v1::EvaluateResponse::kSummary:
        summarized = true;
        Require(response.summary().inputs() == request.inputs_size(),
                "the summary counts every input");
        break;
      default:
        Require(false, "every response has a payload");
    }
  }
  const grpc::Status status = reader->Finish();
  CheckStatusIsAnAnswer(status);
  if (!status.ok()) return;
  Require(summarized, "an OK call ends with its summary");
  Require(tally.outputs() == request.inputs_size(), "one output per input");
  for (int i = 0; i < request.inputs_size(); ++i) tally.CheckComplete(i);
  Require(gradients ==
              (request.mode() == v1::MODE_BACKWARD ? request.inputs_size() : 0),
          "parameter gradients exactly in backward mode");
}

}  // namespace
}  // namespace actserve::fuzzing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  actserve::fuzzing::EvaluateOnce(data, size);
  return 0;
}
