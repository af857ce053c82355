// Health, shutdown, deadlines, cancellation and concurrency, in process.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

v1::EvaluateStreamRequest Header(int64_t elements) {
  v1::EvaluateStreamRequest request;
  v1::StreamHeader* header = request.mutable_header();
  header->mutable_activation()->set_name("relu");
  header->add_shape(elements);
  header->set_dtype(v1::DTYPE_FLOAT32);
  return request;
}

v1::EvaluateStreamRequest Data(int64_t offset, int64_t elements) {
  v1::EvaluateStreamRequest request;
  request.mutable_data()->set_x_offset(offset);
  request.mutable_data()->set_x(
      RandomData(DType::kFloat32, elements, static_cast<uint32_t>(offset)));
  return request;
}

// Until a stream can start: the slot of a cancelled call comes back once the
// server has noticed the cancellation, a moment after the client has seen
// its status.
bool StreamStartsWithin(v1::ActivationService::Stub& stub,
                        absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    const StreamResult result =
        CallEvaluateStream(stub, {Header(100), Data(0, 100)});
    if (result.status.ok()) return true;
    EXPECT_EQ(result.status.error_code(), grpc::RESOURCE_EXHAUSTED);
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

ServerConfig OneStreamConfig() {
  ServerConfig config = TestConfig();
  config.max_concurrent_streams = 1;
  return config;
}

TEST(HealthTest, ServingUnderBothNames) {
  std::unique_ptr<ActivationServer> server = StartServer(TestConfig());
  auto health = Health::NewStub(server->InProcessChannel(ClientArgs()));
  for (const std::string service : {"", kActivationServiceName}) {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << service;
  }
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service("no.such.Service");
  HealthCheckResponse response;
  EXPECT_EQ(health->Check(&context, request, &response).error_code(),
            grpc::NOT_FOUND);
}

TEST(HealthTest, WatchSeesNotServingWhenShutdownBegins) {
  std::unique_ptr<ActivationServer> server = StartServer(TestConfig());
  auto health = Health::NewStub(SocketChannel(*server));
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service(kActivationServiceName);
  auto watch = health->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread shutdown([&] { server->Shutdown(absl::Seconds(2)); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  context.TryCancel();
  while (watch->Read(&response)) {
  }
  watch->Finish();
  shutdown.join();
}

TEST(ShutdownTest, CallInFlightFinishesWithinGraceAndNewCallsAreRefused) {
  std::unique_ptr<ActivationServer> server = StartServer(TestConfig());
  auto stub = v1::ActivationService::NewStub(SocketChannel(*server));
  grpc::ClientContext context;
  auto stream = stub->EvaluateStream(&context);
  v1::EvaluateStreamRequest header = Header(2000);
  header.mutable_header()->set_chunk_bytes(1024);  // 256 elements a chunk
  ASSERT_TRUE(stream->Write(header));
  ASSERT_TRUE(stream->Write(Data(0, 1000)));
  // A result shows the call has reached the server.
  v1::EvaluateStreamResponse response;
  ASSERT_TRUE(stream->Read(&response));
  int64_t elements = response.chunk().data().size() / 4;

  std::thread shutdown([&] { server->Shutdown(absl::Seconds(30)); });
  // Wait until shutdown has begun: new calls fail.
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    grpc::ClientContext list_context;
    v1::ListActivationsResponse list;
    refused = !stub->ListActivations(&list_context, {}, &list).ok();
    if (!refused) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(refused);

  EXPECT_TRUE(stream->Write(Data(1000, 1000)));
  stream->WritesDone();
  bool done = false;
  while (stream->Read(&response)) {
    if (response.has_chunk()) elements += response.chunk().data().size() / 4;
    done = done || response.has_done();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(elements, 2000);
  EXPECT_TRUE(done);
  shutdown.join();
}

TEST(ShutdownTest, CallsStillRunningAfterGraceAreCancelled) {
  std::unique_ptr<ActivationServer> server = StartServer(TestConfig());
  auto stub = v1::ActivationService::NewStub(SocketChannel(*server));
  grpc::ClientContext context;
  auto stream = stub->EvaluateStream(&context);
  ASSERT_TRUE(stream->Write(Header(2000)));
  ASSERT_TRUE(stream->Write(Data(0, 1000)));
  // The client never sends the rest; Shutdown must still return.
  server->Shutdown(absl::Milliseconds(200));
  v1::EvaluateStreamResponse response;
  while (stream->Read(&response)) {
  }
  EXPECT_FALSE(stream->Finish().ok());
}

TEST(DeadlineTest, StalledStreamEndsWithDeadlineExceededAndFreesItsSlot) {
  std::unique_ptr<ActivationServer> server = StartServer(OneStreamConfig());
  auto stub = InProcessStub(*server);
  grpc::ClientContext context;
  context.set_deadline(In(absl::Milliseconds(300)));
  auto stream = stub->EvaluateStream(&context);
  ASSERT_TRUE(stream->Write(Header(1 << 20)));
  ASSERT_TRUE(stream->Write(Data(0, 1 << 16)));
  v1::EvaluateStreamResponse response;
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::DEADLINE_EXCEEDED);
  EXPECT_TRUE(StreamStartsWithin(*stub, absl::Seconds(20)));
}

TEST(DeadlineTest, EvaluateOfASlowReaderEndsWithDeadlineExceeded) {
  std::unique_ptr<ActivationServer> server = StartServer(OneStreamConfig());
  auto stub = InProcessStub(*server);
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("sigmoid");
  *request.add_inputs() = MakeTensor(DType::kFloat32, {1 << 24}, 1);
  request.set_chunk_bytes(4096);  // 16384 chunks: far more than 300 ms
  grpc::ClientContext context;
  context.set_deadline(In(absl::Milliseconds(300)));
  auto reader = stub->Evaluate(&context, request);
  v1::EvaluateResponse response;
  bool summary = false;
  while (reader->Read(&response)) {
    summary = summary || response.has_summary();
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::DEADLINE_EXCEEDED);
  EXPECT_FALSE(summary);
  EXPECT_TRUE(StreamStartsWithin(*stub, absl::Seconds(20)));
}

TEST(CancelTest, CancelledStreamEndsCancelledAndFreesItsSlot) {
  std::unique_ptr<ActivationServer> server = StartServer(OneStreamConfig());
  auto stub = InProcessStub(*server);
  grpc::ClientContext context;
  // A guard against hanging: the test cancels long before.
  context.set_deadline(In(absl::Seconds(60)));
  auto stream = stub->EvaluateStream(&context);
  v1::EvaluateStreamRequest header = Header(1 << 20);
  header.mutable_header()->set_chunk_bytes(1024);
  ASSERT_TRUE(stream->Write(header));
  ASSERT_TRUE(stream->Write(Data(0, 1 << 16)));
  v1::EvaluateStreamResponse response;
  ASSERT_TRUE(stream->Read(&response));  // results of the first piece
  context.TryCancel();
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::CANCELLED);
  EXPECT_TRUE(StreamStartsWithin(*stub, absl::Seconds(20)));
}

TEST(ConcurrencyTest, SixtyFourStreamsAtOnceAllMatchTheCore) {
  std::unique_ptr<ActivationServer> server = StartServer(TestConfig());
  auto stub = InProcessStub(*server);
  constexpr int kStreams = 64;
  std::vector<std::thread> clients;
  std::atomic<int> matched{0};
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      const std::vector<int64_t> shape = {1000 + 37 * i};
      const Evaluation evaluation = CreateEvaluation(
          {"sigmoid", {}, Mode::kBackward, DType::kFloat32, shape});
      v1::StreamHeader header;
      header.mutable_activation()->set_name("sigmoid");
      header.set_mode(v1::MODE_BACKWARD);
      header.add_shape(shape[0]);
      header.set_dtype(v1::DTYPE_FLOAT32);
      header.set_chunk_bytes(1024);
      const std::string x = RandomData(DType::kFloat32, shape[0], i);
      const std::string g = RandomData(DType::kFloat32, shape[0], i + 100);
      const StreamResult result =
          CallEvaluateStream(*stub, StreamMessages(header, x, g, 97 + i, 89));
      EXPECT_TRUE(result.status.ok()) << result.status.error_message();
      if (result.status.ok() && result.outputs.size() == 1 &&
          result.outputs[0] == ComputeLocally(evaluation, x, g).output) {
        ++matched;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(matched.load(), kStreams);
}

TEST(ConcurrencyTest, CallsOverTheLimitAreResourceExhausted) {
  ServerConfig config = TestConfig();
  config.max_concurrent_streams = 2;
  std::unique_ptr<ActivationServer> server = StartServer(config);
  auto stub = InProcessStub(*server);
  grpc::ClientContext contexts[2];
  std::unique_ptr<grpc::ClientReaderWriter<v1::EvaluateStreamRequest,
                                           v1::EvaluateStreamResponse>>
      open[2];
  // Both calls hold their slots once the server has answered a piece (256
  // elements at the smallest chunk size).
  for (int i = 0; i < 2; ++i) {
    contexts[i].set_deadline(In(absl::Seconds(60)));
    open[i] = stub->EvaluateStream(&contexts[i]);
    v1::EvaluateStreamRequest header = Header(512);
    header.mutable_header()->set_chunk_bytes(1024);
    ASSERT_TRUE(open[i]->Write(header));
    ASSERT_TRUE(open[i]->Write(Data(0, 256)));
    v1::EvaluateStreamResponse response;
    ASSERT_TRUE(open[i]->Read(&response));
  }
  const StreamResult refused =
      CallEvaluateStream(*stub, {Header(10), Data(0, 10)});
  EXPECT_EQ(refused.status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.status.error_message().find("max_concurrent_streams"),
            std::string::npos);
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("relu");
  *request.add_inputs() = MakeTensor(DType::kFloat32, {10}, 1);
  EXPECT_EQ(CallEvaluate(*stub, request, 1 << 20).status.error_code(),
            grpc::RESOURCE_EXHAUSTED);
  grpc::ClientContext list_context;
  v1::ListActivationsResponse list;
  EXPECT_TRUE(stub->ListActivations(&list_context, {}, &list).ok())
      << "unary calls are not limited";

  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(open[i]->Write(Data(256, 256)));
    open[i]->WritesDone();
    v1::EvaluateStreamResponse response;
    while (open[i]->Read(&response)) {
    }
    EXPECT_TRUE(open[i]->Finish().ok());
  }
  EXPECT_TRUE(StreamStartsWithin(*stub, absl::Seconds(20)));
}

// A finished call gives its slot back before its client sees the status, so
// a client that waits for each call is never refused, even with all other
// slots held.
TEST(ConcurrencyTest, SequentialCallsFromOneClientAreNeverRefused) {
  constexpr int kSlots = 8;
  ServerConfig config = TestConfig();
  config.max_concurrent_streams = kSlots;
  std::unique_ptr<ActivationServer> server = StartServer(config);
  auto stub = InProcessStub(*server);
  grpc::ClientContext contexts[kSlots - 1];
  std::unique_ptr<grpc::ClientReaderWriter<v1::EvaluateStreamRequest,
                                           v1::EvaluateStreamResponse>>
      held[kSlots - 1];
  for (int i = 0; i < kSlots - 1; ++i) {
    contexts[i].set_deadline(In(absl::Seconds(60)));
    held[i] = stub->EvaluateStream(&contexts[i]);
    // An empty tensor is answered at once: the call holds its slot.
    ASSERT_TRUE(held[i]->Write(Header(0)));
    v1::EvaluateStreamResponse response;
    ASSERT_TRUE(held[i]->Read(&response));
  }

  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("relu");
  *request.add_inputs() = MakeTensor(DType::kFloat32, {10}, 1);
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    const grpc::Status status = CallEvaluate(*stub, request, 1 << 20).status;
    if (status.error_code() == grpc::RESOURCE_EXHAUSTED) ++refused;
    EXPECT_TRUE(status.ok() || status.error_code() == grpc::RESOURCE_EXHAUSTED)
        << status.error_message();
  }
  EXPECT_EQ(refused, 0) << "of 300 calls made one after another";

  for (int i = 0; i < kSlots - 1; ++i) {
    held[i]->WritesDone();
    v1::EvaluateStreamResponse response;
    while (held[i]->Read(&response)) {
    }
    EXPECT_TRUE(held[i]->Finish().ok());
  }
}

}  // namespace
}  // namespace actserve::testing
