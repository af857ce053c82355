// The actserve binary end to end: real sockets, signals, flags, exit codes.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actserve_test/reflection_messages.pb.h"
#include "core/registry.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) {
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   ClientArgs());
}

// One request and its response on grpc.reflection.v1alpha's bidi stream,
// as raw bytes (no upstream stubs are installed to call it with).
grpc::Status ReflectionCall(
    const std::shared_ptr<grpc::Channel>& channel,
    const actserve_test::ServerReflectionRequest& request,
    actserve_test::ServerReflectionResponse* response) {
  const RawCallResult result = RawCall(
      channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      {request.SerializeAsString()});
  if (result.status.ok()) {
    EXPECT_EQ(result.responses.size(), 1u) << "one response per request";
    EXPECT_TRUE(!result.responses.empty() &&
                response->ParseFromString(result.responses[0]));
  }
  return result.status;
}

// What every end-to-end test checks once connected: the catalog, a batch
// and a stream, all equal to the core's results.
void ExpectServesActivations(const std::string& address) {
  auto stub = v1::ActivationService::NewStub(ChannelTo(address));
  grpc::ClientContext context;
  v1::ListActivationsResponse catalog;
  ASSERT_TRUE(stub->ListActivations(&context, {}, &catalog).ok());
  EXPECT_EQ(catalog.activations_size(),
            static_cast<int>(AllActivations().size()));

  const std::vector<int64_t> shape = {300, 500};
  const Evaluation evaluation =
      CreateEvaluation({"sigmoid", {}, Mode::kForward, DType::kFloat32, shape});
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("sigmoid");
  *request.add_inputs() = MakeTensor(DType::kFloat32, shape, 1);
  const EvaluateResult result = CallEvaluate(*stub, request, 1 << 20);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_TRUE(result.outputs[0] ==
              ComputeLocally(evaluation, request.inputs(0).data(), "").output);

  v1::StreamHeader header;
  header.mutable_activation()->set_name("sigmoid");
  header.mutable_shape()->Assign(shape.begin(), shape.end());
  header.set_dtype(v1::DTYPE_FLOAT32);
  const StreamResult streamed = CallEvaluateStream(
      *stub, StreamMessages(header, request.inputs(0).data(), "", 10007, 0));
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  EXPECT_TRUE(streamed.outputs[0] == result.outputs[0]);
}

TEST(BinaryTest, ServesOverTcp) {
  ServerProcess server({"--listen=127.0.0.1:0"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  EXPECT_THAT(server.Stdout(), HasSubstr("buf curl"));
  ExpectServesActivations(server.address());
}

TEST(BinaryTest, ServesOverUnixSocket) {
  const std::string address = absl::StrCat("unix:", MakeTempDir(), "/sock");
  ServerProcess server({"--listen=" + address});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  EXPECT_EQ(server.address(), address);
  ExpectServesActivations(address);
}

TEST(BinaryTest, HealthAndReflection) {
  ServerProcess server({"--listen=127.0.0.1:0"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto channel = ChannelTo(server.address());

  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const std::string service : {"", kActivationServiceName}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(),
              grpc::health::v1::HealthCheckResponse::SERVING);
  }

  // What `buf curl --list-methods` and grpcurl ask first.
  actserve_test::ServerReflectionRequest request;
  request.set_list_services("");
  actserve_test::ServerReflectionResponse response;
  ASSERT_TRUE(ReflectionCall(channel, request, &response).ok());
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  EXPECT_THAT(services, Contains(kActivationServiceName));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// A CA, and a server and a client certificate it signed, made with the
// openssl command; empty if it is missing.
std::string MakeCertificates() {
  const std::string dir = MakeTempDir();
  std::ofstream(dir + "/make.sh")
      << "set -e\n"
         "key='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
         "openssl req -x509 $key -days 1 -subj /CN=test-ca -keyout ca.key "
         "-out ca.pem\n"
         "echo subjectAltName=DNS:localhost,IP:127.0.0.1 > san\n"
         "for who in server client; do\n"
         "  openssl req $key -subj /CN=$who -keyout $who.key -out $who.csr\n"
         "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key "
         "-CAcreateserial -days 1 -extfile san -out $who.pem\n"
         "done\n";
  const std::string command =
      absl::StrCat("cd ", dir, " && bash make.sh >/dev/null 2>&1");
  return std::system(command.c_str()) == 0 ? dir : "";
}

TEST(BinaryTest, MutualTls) {
  const std::string certs = MakeCertificates();
  if (certs.empty()) GTEST_SKIP() << "the openssl command is not available";
  ServerProcess server({"--listen=127.0.0.1:0",
                        "--tls_cert=" + certs + "/server.pem",
                        "--tls_key=" + certs + "/server.key",
                        "--tls_client_ca=" + certs + "/ca.pem"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  EXPECT_THAT(server.Stdout(), HasSubstr("https://"));

  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(certs + "/ca.pem");
  v1::ListActivationsResponse catalog;
  {
    auto stub = v1::ActivationService::NewStub(grpc::CreateCustomChannel(
        server.address(), grpc::SslCredentials(options), ClientArgs()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    EXPECT_FALSE(stub->ListActivations(&context, {}, &catalog).ok())
        << "a client without a certificate is turned away";
  }
  options.pem_private_key = ReadFile(certs + "/client.key");
  options.pem_cert_chain = ReadFile(certs + "/client.pem");
  auto stub = v1::ActivationService::NewStub(grpc::CreateCustomChannel(
      server.address(), grpc::SslCredentials(options), ClientArgs()));
  grpc::ClientContext context;
  EXPECT_TRUE(stub->ListActivations(&context, {}, &catalog).ok());
  EXPECT_EQ(catalog.activations_size(),
            static_cast<int>(AllActivations().size()));
}

TEST(BinaryTest, SecondServerOnABusyPortFailsLoudly) {
  ServerProcess first({"--listen=127.0.0.1:0"});
  ASSERT_TRUE(first.WaitUntilListening()) << first.Stderr();
  ServerProcess second({"--listen=" + first.address()});
  EXPECT_FALSE(second.WaitUntilListening());
  const std::optional<int> code = second.WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(second.Stderr(),
              HasSubstr(absl::StrCat("cannot listen on ", first.address())));
  ExpectServesActivations(first.address());
}

TEST(BinaryTest, SigtermExitsZero) {
  ServerProcess server({"--listen=127.0.0.1:0", "--shutdown_grace=5s"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  ExpectServesActivations(server.address());
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitForExit(absl::Seconds(30)), 0) << server.Stderr();
  EXPECT_THAT(server.Stderr(), HasSubstr("shutting down"));
}

TEST(BinaryTest, SigintExitsZero) {
  ServerProcess server({"--listen=127.0.0.1:0"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  server.Signal(SIGINT);
  EXPECT_EQ(server.WaitForExit(absl::Seconds(30)), 0) << server.Stderr();
}

TEST(BinaryTest, SigtermCancelsAStalledCallAfterTheGracePeriod) {
  ServerProcess server({"--listen=127.0.0.1:0", "--shutdown_grace=1s"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto stub = v1::ActivationService::NewStub(ChannelTo(server.address()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  auto stream = stub->EvaluateStream(&context);
  v1::EvaluateStreamRequest header;
  header.mutable_header()->mutable_activation()->set_name("relu");
  header.mutable_header()->add_shape(1024);
  header.mutable_header()->set_dtype(v1::DTYPE_FLOAT32);
  header.mutable_header()->set_chunk_bytes(1024);
  ASSERT_TRUE(stream->Write(header));
  v1::EvaluateStreamRequest data;
  data.mutable_data()->set_x(RandomData(DType::kFloat32, 256, 1));
  ASSERT_TRUE(stream->Write(data));
  v1::EvaluateStreamResponse response;
  ASSERT_TRUE(stream->Read(&response));  // the call is in flight

  server.Signal(SIGTERM);
  // The client never finishes its tensor; the server gives up after 1 s.
  EXPECT_EQ(server.WaitForExit(absl::Seconds(60)), 0) << server.Stderr();
  while (stream->Read(&response)) {
  }
  EXPECT_FALSE(stream->Finish().ok());
}

TEST(BinaryTest, EnvironmentSetsFlagsTheCommandLineDoesNotGive) {
  const std::string address = absl::StrCat("unix:", MakeTempDir(), "/sock");
  ServerProcess from_env(
      {}, {"ACTSERVE_LISTEN=" + address, "ACTSERVE_LOG_LEVEL=warning"});
  ASSERT_TRUE(from_env.WaitUntilListening()) << from_env.Stderr();
  EXPECT_EQ(from_env.address(), address);
  ExpectServesActivations(address);
  EXPECT_THAT(from_env.Stderr(), Not(HasSubstr("ListActivations")))
      << "calls are logged at info, below the level from the environment";

  ServerProcess overridden({"--listen=127.0.0.1:0"},
                           {"ACTSERVE_LISTEN=unix:/nonexistent/dir/sock"});
  ASSERT_TRUE(overridden.WaitUntilListening()) << overridden.Stderr();
  EXPECT_THAT(overridden.address(), HasSubstr("127.0.0.1:"));
}

TEST(BinaryTest, LogsOneLinePerCall) {
  ServerProcess server({"--listen=127.0.0.1:0"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  ExpectServesActivations(server.address());
  const std::string log = server.Stderr();
  EXPECT_THAT(log, HasSubstr("ListActivations status=OK"));
  EXPECT_THAT(log, HasSubstr("Evaluate activation=sigmoid mode=forward "
                             "tensors=1 elements=150000 status=OK"));
  EXPECT_THAT(log, HasSubstr("EvaluateStream activation=sigmoid mode=forward "
                             "tensors=1 elements=150000 status=OK"));
}

// Text a client sends cannot forge log lines: control characters in it are
// escaped, and long values are cut.
TEST(BinaryTest, ClientTextCannotForgeLogLines) {
  ServerProcess server({"--listen=127.0.0.1:0"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto stub = v1::ActivationService::NewStub(ChannelTo(server.address()));
  const std::string forged = "2026-01-01T00:00:00.000Z E forged";
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name(
      absl::StrCat("x\n", forged, std::string("\0\r", 2)));
  *request.add_inputs() = MakeTensor(DType::kFloat32, {4}, 1);
  EXPECT_EQ(CallEvaluate(*stub, request, 1 << 20).status.error_code(),
            grpc::INVALID_ARGUMENT);
  v1::StreamHeader header;
  header.mutable_activation()->set_name(std::string(20000, 'n'));
  header.add_shape(4);
  header.set_dtype(v1::DTYPE_FLOAT32);
  v1::EvaluateStreamRequest message;
  *message.mutable_header() = header;
  EXPECT_EQ(CallEvaluateStream(*stub, {message}).status.error_code(),
            grpc::INVALID_ARGUMENT);

  const std::string log = server.Stderr();
  EXPECT_THAT(log, HasSubstr(R"(activation=x\n2026-01-01T00:00:00.000Z E )"
                             R"(forged\x00\r status=INVALID_ARGUMENT)"));
  EXPECT_THAT(log, Not(HasSubstr("\n" + forged)));
  EXPECT_EQ(log.find('\0'), std::string::npos);
  EXPECT_EQ(log.find('\r'), std::string::npos);
  // Both calls' lines, each short.
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    EXPECT_LT(line.size(), 1000u) << line.substr(0, 200);
  }
  EXPECT_THAT(log, HasSubstr("…(20000 bytes)"));
}

TEST(BinaryTest, BadConfigurationExitsWithAMessage) {
  ServerProcess bad_flag({"--max_concurrent_streams=0"});
  EXPECT_EQ(bad_flag.WaitForExit(absl::Seconds(30)), 2);
  EXPECT_THAT(bad_flag.Stderr(), HasSubstr("--max_concurrent_streams"));

  ServerProcess bad_env({}, {"ACTSERVE_THREADS=many"});
  const std::optional<int> code = bad_env.WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(bad_env.Stderr(), HasSubstr("ACTSERVE_THREADS=many"));

  ServerProcess missing_key({"--listen=127.0.0.1:0", "--tls_cert=/dev/null"});
  EXPECT_EQ(missing_key.WaitForExit(absl::Seconds(30)), 2);
  EXPECT_THAT(missing_key.Stderr(), HasSubstr("--tls_key"));
}

}  // namespace
}  // namespace actserve::testing
