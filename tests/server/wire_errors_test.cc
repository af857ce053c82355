// What arrives on the wire may be anything: a request that is not valid
// protobuf gets INVALID_ARGUMENT (never UNIMPLEMENTED, never a silent end of
// stream), and values echoed back in errors are bounded.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kListActivations[] =
    "/actserve.v1.ActivationService/ListActivations";
constexpr char kEvaluate[] = "/actserve.v1.ActivationService/Evaluate";
constexpr char kEvaluateStream[] =
    "/actserve.v1.ActivationService/EvaluateStream";

class WireErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = StartServer(TestConfig()).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  // Over the socket, so that the client's own limits apply (e.g. on the size
  // of the status it receives).
  static std::shared_ptr<grpc::Channel> Channel() {
    return SocketChannel(*server_);
  }

  static ActivationServer* server_;
};

ActivationServer* WireErrorsTest::server_ = nullptr;

v1::EvaluateRequest ValidRequest() {
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("sigmoid");
  *request.add_inputs() = MakeTensor(DType::kFloat32, {2, 3}, 1);
  return request;
}

// Encodings that are not valid protobuf, of EvaluateRequest or any message.
std::vector<std::string> Unparsable() {
  const std::string valid = ValidRequest().SerializeAsString();
  return {
      // The inputs tensor cut short: a length longer than what follows.
      valid.substr(0, valid.size() - 3),
      // A varint (field 2, mode) running off the end.
      std::string("\x10\xff\xff", 3),
      // Field 1 declares 16 bytes, 3 follow.
      std::string("\x0a\x10"
                  "abc",
                  5),
      // A tag of field number 0.
      std::string("\x00\x01", 2),
  };
}

std::string InvalidUtf8Name() {
  return absl::StrReplaceAll(ValidRequest().SerializeAsString(),
                             {{"sigmoid", "\xffigmoid"}});
}

TEST_F(WireErrorsTest, ValidRawRequestSucceeds) {
  // The raw path itself works: the same bytes, undamaged.
  const RawCallResult result =
      RawCall(Channel(), kEvaluate, {ValidRequest().SerializeAsString()});
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.responses.size(), 2u) << "one chunk and the summary";
}

TEST_F(WireErrorsTest, UnparsableEvaluateIsInvalidArgument) {
  std::vector<std::string> requests = Unparsable();
  requests.push_back(InvalidUtf8Name());
  for (const std::string& bytes : requests) {
    SCOPED_TRACE(absl::CHexEscape(bytes.substr(0, 40)));
    const RawCallResult result = RawCall(Channel(), kEvaluate, {bytes});
    EXPECT_EQ(result.status.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(
        result.status.error_message(),
        HasSubstr("could not be parsed as actserve.v1.EvaluateRequest"));
    EXPECT_TRUE(result.responses.empty());
  }
  // And the server goes on serving.
  EXPECT_TRUE(CallEvaluate(*InProcessStub(*server_), ValidRequest(), 1 << 20)
                  .status.ok());
}

TEST_F(WireErrorsTest, UnparsableListActivationsIsInvalidArgument) {
  // The request has no fields, so only a broken encoding fails: a field
  // cut short, a varint running off the end.
  for (const std::string& bytes : {std::string("\x0a\x10"
                                               "abc",
                                               5),
                                   std::string("\x10\xff\xff", 3)}) {
    const RawCallResult result = RawCall(Channel(), kListActivations, {bytes});
    EXPECT_EQ(result.status.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(
        result.status.error_message(),
        HasSubstr("could not be parsed as actserve.v1.ListActivationsRequest"));
  }
  const RawCallResult empty = RawCall(Channel(), kListActivations, {""});
  EXPECT_TRUE(empty.status.ok()) << empty.status.error_message();
  ASSERT_EQ(empty.responses.size(), 1u);
  v1::ListActivationsResponse catalog;
  EXPECT_TRUE(catalog.ParseFromString(empty.responses[0]));
  EXPECT_GT(catalog.activations_size(), 0);
}

std::string StreamHeaderBytes() {
  v1::EvaluateStreamRequest request;
  v1::StreamHeader* header = request.mutable_header();
  header->mutable_activation()->set_name("relu");
  header->add_shape(4);
  header->set_dtype(v1::DTYPE_FLOAT32);
  return request.SerializeAsString();
}

std::string StreamDataBytes() {
  v1::EvaluateStreamRequest request;
  request.mutable_data()->set_x(RandomData(DType::kFloat32, 4, 1));
  return request.SerializeAsString();
}

const std::string kGarbage(
    "\x0a\x10"
    "abc",
    5);

TEST_F(WireErrorsTest, StreamOfGarbageIsInvalidArgument) {
  const RawCallResult result = RawCall(Channel(), kEvaluateStream, {kGarbage});
  EXPECT_EQ(result.status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(),
              HasSubstr("stream message 0: the request could not be parsed as "
                        "actserve.v1.EvaluateStreamRequest"));
  EXPECT_TRUE(result.responses.empty());
}

TEST_F(WireErrorsTest, GarbageBetweenTensorsEndsTheStreamWithAnError) {
  const RawCallResult result =
      RawCall(Channel(), kEvaluateStream,
              {StreamHeaderBytes(), StreamDataBytes(), kGarbage,
               StreamHeaderBytes(), StreamDataBytes()});
  EXPECT_EQ(result.status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("stream message 2"));
  // Tensor 0, before the garbage, may have been answered; nothing after it.
  for (const std::string& bytes : result.responses) {
    v1::EvaluateStreamResponse response;
    ASSERT_TRUE(response.ParseFromString(bytes));
    EXPECT_EQ(response.has_chunk() ? response.chunk().input_index()
                                   : response.done().tensor_index(),
              0);
  }
}

TEST_F(WireErrorsTest, GarbageInsideATensorIsNamedAsUnparsable) {
  const RawCallResult result =
      RawCall(Channel(), kEvaluateStream, {StreamHeaderBytes(), kGarbage});
  EXPECT_EQ(result.status.error_code(), grpc::INVALID_ARGUMENT)
      << result.status.error_message();
  EXPECT_THAT(result.status.error_message(),
              HasSubstr("stream message 1: the request could not be parsed"));
}

// The stream of every case above, well-formed, ends OK: what failed them is
// the garbage.
TEST_F(WireErrorsTest, WellFormedStreamSucceeds) {
  const RawCallResult result =
      RawCall(Channel(), kEvaluateStream,
              {StreamHeaderBytes(), StreamDataBytes(), StreamHeaderBytes(),
               StreamDataBytes()});
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.responses.size(), 4u) << "a chunk and a done per tensor";
}

// A message over the size limit fails in gRPC before the reactor sees it;
// the stream still never ends OK.
TEST(WireLimitsTest, OversizedStreamMessageEndsTheStreamWithAnError) {
  ServerConfig config = TestConfig();
  config.max_message_bytes = 1 << 20;
  config.chunk_sizes.max_bytes = 1 << 20;
  std::unique_ptr<ActivationServer> server = StartServer(config);
  v1::EvaluateStreamRequest oversized;
  oversized.mutable_data()->set_x(std::string(4 << 20, '\0'));
  const RawCallResult result = RawCall(
      SocketChannel(*server), kEvaluateStream,
      {StreamHeaderBytes(), StreamDataBytes(), oversized.SerializeAsString()});
  EXPECT_EQ(result.status.error_code(), grpc::RESOURCE_EXHAUSTED)
      << result.status.error_message();
}

// Status messages and the values they echo stay short, whatever was sent.
constexpr size_t kMaxMessageBytes = 1024;

TEST_F(WireErrorsTest, LongActivationNameIsEchoedBounded) {
  const std::string name(20000, 'n');
  v1::EvaluateRequest request = ValidRequest();
  request.mutable_activation()->set_name(name);
  auto stub = v1::ActivationService::NewStub(Channel());
  const EvaluateResult evaluate = CallEvaluate(*stub, request, 1 << 20);
  EXPECT_EQ(evaluate.status.error_code(), grpc::INVALID_ARGUMENT)
      << evaluate.status.error_message().substr(0, 200);
  EXPECT_THAT(evaluate.status.error_message(),
              HasSubstr("unknown activation 'nnnn"));
  EXPECT_THAT(evaluate.status.error_message(), HasSubstr("…(20000 bytes)"));
  EXPECT_LT(evaluate.status.error_message().size(), kMaxMessageBytes);

  v1::EvaluateStreamRequest header;
  header.mutable_header()->mutable_activation()->set_name(name);
  header.mutable_header()->add_shape(4);
  header.mutable_header()->set_dtype(v1::DTYPE_FLOAT32);
  const StreamResult stream = CallEvaluateStream(*stub, {header});
  EXPECT_EQ(stream.status.error_code(), grpc::INVALID_ARGUMENT)
      << stream.status.error_message().substr(0, 200);
  EXPECT_THAT(stream.status.error_message(), HasSubstr("…(20000 bytes)"));
  EXPECT_LT(stream.status.error_message().size(), kMaxMessageBytes);
}

TEST_F(WireErrorsTest, ControlCharactersInEchoesAreEscaped) {
  v1::EvaluateRequest request = ValidRequest();
  request.mutable_activation()->set_name(std::string("a\nb\0z", 5));
  auto stub = v1::ActivationService::NewStub(Channel());
  const EvaluateResult result = CallEvaluate(*stub, request, 1 << 20);
  EXPECT_EQ(result.status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr(R"('a\nb\x00z')"));
}

TEST_F(WireErrorsTest, HugeShapesAreEchoedElided) {
  // Backward sigmoid whose grad_output shape differs from the input's, both
  // of rank 100,000 (one element each: the data is tiny).
  constexpr int kRank = 100000;
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("sigmoid");
  request.set_mode(v1::MODE_BACKWARD);
  v1::Tensor* x = request.add_inputs();
  v1::Tensor* grad = request.add_grad_outputs();
  for (int i = 0; i < kRank; ++i) {
    x->add_shape(1);
    grad->add_shape(1);
  }
  grad->set_shape(kRank / 2, 2);
  x->set_dtype(v1::DTYPE_FLOAT32);
  grad->set_dtype(v1::DTYPE_FLOAT32);
  x->set_data(RandomData(DType::kFloat32, 1, 1));
  grad->set_data(RandomData(DType::kFloat32, 2, 2));
  auto stub = v1::ActivationService::NewStub(Channel());
  const EvaluateResult result = CallEvaluate(*stub, request, 1 << 20);
  EXPECT_EQ(result.status.error_code(), grpc::INVALID_ARGUMENT)
      << result.status.error_message().substr(0, 200);
  EXPECT_THAT(result.status.error_message(),
              HasSubstr("grad_outputs[0]: shape [1, 1, 1, 1, …, 1, 1, 1, 1] "
                        "(rank 100000) is not the forward output's shape"));
  EXPECT_LT(result.status.error_message().size(), kMaxMessageBytes);
}

}  // namespace
}  // namespace actserve::testing
