// Measures EvaluateStream bulk throughput per activation against identity,
// whose time is the transport alone, in one run:
//
//   actserve_stream_throughput [--target=unix:/tmp/s] [--gib=0.25]
//
// Without --target it starts a server in this process on a unix socket, so
// client and server share the machine as they would on one host.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "actserve/v1/actserve.grpc.pb.h"
#include "server/activation_server.h"
#include "server/logging.h"

ABSL_FLAG(std::string, target, "",
          "Server to measure; empty starts one in this process");
ABSL_FLAG(std::string, activations, "identity,relu,sigmoid,gelu",
          "Comma-separated; identity is always measured first");
ABSL_FLAG(double, gib, 0.25, "Input per activation, in GiB of float32");
ABSL_FLAG(int64_t, message_bytes, 1 << 20, "x bytes per StreamData message");
ABSL_FLAG(int64_t, chunk_bytes, 1 << 20, "Result chunk size to ask for");
ABSL_FLAG(int, repeats, 3, "Runs per activation; the fastest counts");

namespace actserve {
namespace {

// Streams `elements` float32s through `activation`; returns the wall time
// from the header to the StreamTensorDone, or an error.
absl::StatusOr<absl::Duration> StreamOnce(v1::ActivationService::Stub& stub,
                                          const std::string& activation,
                                          int64_t elements) {
  grpc::ClientContext context;
  auto stream = stub.EvaluateStream(&context);
  const absl::Time start = absl::Now();
  std::thread writer([&] {
    v1::EvaluateStreamRequest request;
    v1::StreamHeader* header = request.mutable_header();
    header->mutable_activation()->set_name(activation);
    header->add_shape(elements);
    header->set_dtype(v1::DTYPE_FLOAT32);
    header->set_chunk_bytes(absl::GetFlag(FLAGS_chunk_bytes));
    if (!stream->Write(request)) return;
    const int64_t step = absl::GetFlag(FLAGS_message_bytes) / 4;
    // Values in [-4, 4): every activation has work on both sides of 0.
    std::vector<float> values(static_cast<size_t>(step));
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = static_cast<float>(i % 8192) / 1024.0f - 4.0f;
    }
    for (int64_t sent = 0; sent < elements; sent += step) {
      const int64_t n = std::min(step, elements - sent);
      request.mutable_data()->set_x_offset(sent);
      request.mutable_data()->set_x(values.data(),
                                    static_cast<size_t>(n) * sizeof(float));
      if (!stream->Write(request)) return;
    }
    stream->WritesDone();
  });
  v1::EvaluateStreamResponse response;
  int64_t received = 0;
  while (stream->Read(&response)) {
    if (response.has_chunk()) received += response.chunk().data().size() / 4;
  }
  const absl::Duration elapsed = absl::Now() - start;
  writer.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::UnknownError(
        absl::StrCat(activation, ": ", status.error_message()));
  }
  if (received != elements) {
    return absl::DataLossError(absl::StrCat(activation, ": ", received, " of ",
                                            elements, " elements"));
  }
  return elapsed;
}

int Run() {
  std::unique_ptr<ActivationServer> server;
  std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    SetLogLevel(LogLevel::kWarning);
    ServerConfig config;
    config.listen = absl::StrCat("unix:/tmp/actserve_throughput_", getpid());
    absl::StatusOr<std::unique_ptr<ActivationServer>> started =
        ActivationServer::Start(config);
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      return 1;
    }
    server = *std::move(started);
    target = server->address();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto stub = v1::ActivationService::NewStub(grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args));

  std::vector<std::string> activations = {"identity"};
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_activations), ',')) {
    if (name != "identity") activations.emplace_back(name);
  }
  const int64_t elements =
      static_cast<int64_t>(absl::GetFlag(FLAGS_gib) * (1 << 30)) / 4;
  const double gigabytes = static_cast<double>(elements) * 4 / 1e9;
  std::printf(
      "EvaluateStream float32, %.3f GB per run, %lld-byte messages, "
      "%lld-byte chunks, %s\n",
      gigabytes, static_cast<long long>(absl::GetFlag(FLAGS_message_bytes)),
      static_cast<long long>(absl::GetFlag(FLAGS_chunk_bytes)), target.c_str());
  std::printf("%-12s %10s %12s\n", "activation", "GB/s", "vs identity");
  double identity_rate = 0;
  for (const std::string& activation : activations) {
    absl::Duration best = absl::InfiniteDuration();
    for (int i = 0; i < absl::GetFlag(FLAGS_repeats); ++i) {
      absl::StatusOr<absl::Duration> elapsed =
          StreamOnce(*stub, activation, elements);
      if (!elapsed.ok()) {
        std::fprintf(stderr, "%s\n", elapsed.status().ToString().c_str());
        return 1;
      }
      best = std::min(best, *elapsed);
    }
    const double rate = gigabytes / absl::ToDoubleSeconds(best);
    if (activation == "identity") identity_rate = rate;
    std::printf("%-12s %10.3f %11.0f%%\n", activation.c_str(), rate,
                100 * rate / identity_rate);
  }
  if (server != nullptr) server->Shutdown(absl::Seconds(1));
  return 0;
}

}  // namespace
}  // namespace actserve

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return actserve::Run();
}
