#include "tests/fuzz/fuzz_server.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "google/protobuf/stubs/logging.h"
#include "server/activation_server.h"
#include "server/logging.h"

namespace actserve::fuzzing {

const std::shared_ptr<grpc::Channel>& FuzzChannel() {
  // Protobuf logs every string field with invalid UTF-8 it parses: fuzzed
  // inputs are full of them.
  static google::protobuf::LogSilencer silence_protobuf;
  // Never destroyed (libFuzzer exits from inside the run), and reachable
  // from here, so that LeakSanitizer does not count it.
  static ActivationServer* server = nullptr;
  static const std::shared_ptr<grpc::Channel>* const channel = [] {
    SetLogLevel(LogLevel::kWarning);
    ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.threads = 2;
    config.limits.max_elements = kMaxElements;
    config.limits.max_jacobian_elements = kMaxElements;
    config.max_message_bytes = int64_t{1} << 20;
    config.chunk_sizes.default_bytes = int64_t{4} << 10;
    config.chunk_sizes.max_bytes = int64_t{64} << 10;
    absl::StatusOr<std::unique_ptr<ActivationServer>> started =
        ActivationServer::Start(config);
    if (!started.ok()) {
      std::fprintf(stderr, "cannot start the server: %s\n",
                   std::string(started.status().message()).c_str());
      std::abort();
    }
    server = started->release();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    return new std::shared_ptr<grpc::Channel>(server->InProcessChannel(args));
  }();
  return *channel;
}

v1::ActivationService::Stub& FuzzStub() {
  static v1::ActivationService::Stub* const stub =
      v1::ActivationService::NewStub(FuzzChannel()).release();
  return *stub;
}

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void CheckStatusIsAnAnswer(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      break;
    default:
      std::fprintf(stderr, "unexpected status %d: %s\n",
                   static_cast<int>(status.error_code()),
                   status.error_message().c_str());
      std::abort();
  }
  Require(status.ok() || !status.error_message().empty(),
          "an error says what went wrong");
}

}  // namespace actserve::fuzzing
