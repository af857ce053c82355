// Faults against the actserve binary, each with what must hold afterwards:
// a client that cancels mid-call, a deadline that passes mid-stream, SIGTERM
// with streams in flight, a client that stops reading. (One of three replicas
// killed under round_robin: tests/client/python/test_load_balancing.py.)
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/reliability/process_stats.h"
#include "tests/server/server_process.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kPieceElements = kMiB / 4;

using Stream = grpc::ClientReaderWriter<v1::EvaluateStreamRequest,
                                        v1::EvaluateStreamResponse>;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

std::unique_ptr<v1::ActivationService::Stub> StubFor(
    const ServerProcess& server) {
  return v1::ActivationService::NewStub(grpc::CreateCustomChannel(
      server.address(), grpc::InsecureChannelCredentials(), ClientArgs()));
}

v1::EvaluateStreamRequest Header(const std::string& name, int64_t elements,
                                 int64_t chunk_bytes) {
  v1::EvaluateStreamRequest request;
  v1::StreamHeader* header = request.mutable_header();
  header->mutable_activation()->set_name(name);
  header->add_shape(elements);
  header->set_dtype(v1::DTYPE_FLOAT32);
  header->set_chunk_bytes(chunk_bytes);
  return request;
}

v1::EvaluateStreamRequest Data(const std::string& x, int64_t offset,
                               int64_t elements) {
  v1::EvaluateStreamRequest request;
  request.mutable_data()->set_x_offset(offset);
  request.mutable_data()->set_x(x.substr(0, static_cast<size_t>(elements) * 4));
  return request;
}

v1::EvaluateRequest Request(const std::string& name, int64_t elements) {
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name(name);
  *request.add_inputs() = MakeTensor(DType::kFloat32, {elements}, 3);
  return request;
}

// With --max_concurrent_streams=1: whether a new call gets the slot within
// `timeout`, i.e. the last call's reactor is gone.
bool SlotFreeWithin(v1::ActivationService::Stub& stub, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    const EvaluateResult result =
        CallEvaluate(stub, Request("relu", 100), 1 << 20);
    if (result.status.ok()) return true;
    if (result.status.error_code() != grpc::RESOURCE_EXHAUSTED) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

void Drain(Stream& reader) {
  v1::EvaluateStreamResponse response;
  while (reader.Read(&response)) {
  }
}

TEST(FaultTest, CancelledCallsFreeTheirMemoryAndSlotAtOnce) {
  ServerProcess server({"--listen=127.0.0.1:0", "--log_level=warning",
                        "--max_concurrent_streams=1"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto stub = StubFor(server);
  const v1::EvaluateRequest large = Request("gelu", 16 * kMiB);  // 64 MiB
  ASSERT_TRUE(CallEvaluate(*stub, large, 1 << 20).status.ok());  // warm up
  const std::string piece = RandomData(DType::kFloat32, kPieceElements, 5);
  const int64_t rss_warm = server.MemoryBytes("VmRSS");

  // Starts a call, reads its first result and cancels it. A start refused
  // for want of the one slot is retried: the probe before it may hold the
  // slot a moment after its status arrived.
  auto cancel_after_first_result = [&](bool stream) {
    for (int attempt = 0; attempt < 250; ++attempt) {
      grpc::ClientContext context;
      context.set_deadline(In(absl::Minutes(2)));
      grpc::Status status;
      if (stream) {  // 16 MiB of a 1 GiB tensor
        auto call = stub->EvaluateStream(&context);
        bool sent = call->Write(Header("gelu", 256 * kMiB, kMiB));
        for (int64_t i = 0; sent && i < 16; ++i) {
          sent = call->Write(Data(piece, i * kPieceElements, kPieceElements));
        }
        v1::EvaluateStreamResponse response;
        if (sent && call->Read(&response)) context.TryCancel();
        Drain(*call);
        status = call->Finish();
      } else {  // 64 MiB in one message
        auto call = stub->Evaluate(&context, large);
        v1::EvaluateResponse response;
        if (call->Read(&response)) context.TryCancel();
        while (call->Read(&response)) {
        }
        status = call->Finish();
      }
      if (status.error_code() != grpc::RESOURCE_EXHAUSTED) {
        EXPECT_EQ(status.error_code(), grpc::CANCELLED)
            << status.error_message();
        return;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "never got the slot";
  };
  // RSS after each round. Allocators keep some of what was freed, so it
  // wanders; a cancelled call that kept its 64 MiB request would add that
  // much every round.
  constexpr int kRounds = 8;
  std::vector<int64_t> rss;
  for (int round = 0; round < kRounds; ++round) {
    for (bool stream : {false, true}) {
      cancel_after_first_result(stream);
      ASSERT_TRUE(SlotFreeWithin(*stub, absl::Seconds(5)))
          << "round " << round << ": the cancelled call keeps its slot";
    }
    rss.push_back(server.MemoryBytes("VmRSS"));
  }
  std::cout << "cancel: server RSS " << rss_warm / kMiB
            << " MiB after one 64 MiB call; after each round of a cancelled "
               "64 MiB call and a cancelled 1 GiB stream:";
  for (int64_t r : rss) std::cout << " " << r / kMiB;
  std::cout << " MiB\n";
  // At most what one call in flight holds: its request as received and as
  // parsed.
  if (!kSanitizedBuild) {
    EXPECT_LE(rss.back(), rss_warm + 2 * 64 * kMiB)
        << "cancelled calls leave memory behind";
  }
}

TEST(FaultTest, DeadlineMidStreamEndsDeadlineExceededAndTheWorkStops) {
  ServerProcess server({"--listen=127.0.0.1:0", "--log_level=warning",
                        "--max_concurrent_streams=1"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto stub = StubFor(server);
  const std::string piece = RandomData(DType::kFloat32, kPieceElements, 5);
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(1)));
  auto stream = stub->EvaluateStream(&context);
  // A 4 GiB tensor, fed as fast as the server takes it: the deadline
  // passes while it computes.
  constexpr int64_t kElements = int64_t{1} << 30;
  std::thread writer([&] {
    if (!stream->Write(Header("gelu", kElements, kMiB))) return;
    for (int64_t offset = 0; offset < kElements; offset += kPieceElements) {
      if (!stream->Write(Data(piece, offset, kPieceElements))) return;
    }
  });
  int64_t results = 0;
  bool done = false;
  v1::EvaluateStreamResponse response;
  while (stream->Read(&response)) {
    results += response.has_chunk();
    done = done || response.has_done();
  }
  writer.join();
  EXPECT_EQ(stream->Finish().error_code(), grpc::DEADLINE_EXCEEDED);
  EXPECT_GT(results, 0) << "the deadline passed mid-compute";
  EXPECT_FALSE(done);
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Duration cpu_before = CpuTime(server.pid());
  absl::SleepFor(absl::Seconds(1));
  const absl::Duration cpu_used = CpuTime(server.pid()) - cpu_before;
  std::cout << "deadline: " << results << " results before it passed; "
            << "server CPU in the next second: "
            << absl::FormatDuration(cpu_used) << "\n";
  EXPECT_LT(cpu_used, absl::Milliseconds(100)) << "the work stopped";
  EXPECT_TRUE(SlotFreeWithin(*stub, absl::Seconds(5)));
}

TEST(FaultTest, SigtermLetsStreamsInFlightFinishRefusesNewCallsAndExitsZero) {
  ServerProcess server({"--listen=127.0.0.1:0", "--shutdown_grace=60s"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto stub = StubFor(server);
  constexpr int kStreams = 4;
  constexpr int64_t kElements = 8192;
  const std::string x = RandomData(DType::kFloat32, kElements, 9);
  grpc::ClientContext contexts[kStreams];
  std::unique_ptr<Stream> streams[kStreams];
  for (int i = 0; i < kStreams; ++i) {
    contexts[i].set_deadline(In(absl::Minutes(2)));
    streams[i] = stub->EvaluateStream(&contexts[i]);
    ASSERT_TRUE(streams[i]->Write(Header("relu", kElements, 4096)));
    ASSERT_TRUE(streams[i]->Write(Data(x, 0, kElements / 2)));
    v1::EvaluateStreamResponse response;
    ASSERT_TRUE(streams[i]->Read(&response));  // in flight
  }

  const absl::Time signalled = absl::Now();
  server.Signal(SIGTERM);
  // New calls are refused while the streams are still open.
  bool refused = false;
  while (!refused && absl::Now() < signalled + absl::Seconds(20)) {
    auto fresh = StubFor(server);
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(2)));
    v1::ListActivationsResponse list;
    refused = !fresh->ListActivations(&context, {}, &list).ok();
    if (!refused) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(refused);

  const std::string want =
      ComputeLocally(
          CreateEvaluation(
              {"relu", {}, Mode::kForward, DType::kFloat32, {kElements}}),
          x, "")
          .output;
  for (int i = 0; i < kStreams; ++i) {
    v1::EvaluateStreamRequest rest =
        Data(x.substr(kElements / 2 * 4), kElements / 2, kElements / 2);
    EXPECT_TRUE(streams[i]->Write(rest));
    streams[i]->WritesDone();
    const DrainedStream drained = DrainFloat32Stream(*streams[i], want);
    EXPECT_TRUE(drained.status.ok()) << drained.status.error_message();
    EXPECT_TRUE(drained.done && drained.matches);
    EXPECT_EQ(1024 + drained.elements, kElements);  // + the chunk read above
  }
  // Once they are done the server exits at once, not after the 60 s grace.
  EXPECT_EQ(server.WaitForExit(absl::Seconds(30)), 0) << server.Stderr();
  std::cout << "sigterm: " << kStreams << " streams finished, exit after "
            << absl::FormatDuration(absl::Now() - signalled) << "\n";
}

TEST(FaultTest, AClientThatStopsReadingCannotGrowTheServersMemory) {
  ServerProcess server({"--listen=127.0.0.1:0", "--log_level=warning"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto stub = StubFor(server);
  const std::string piece = RandomData(DType::kFloat32, kPieceElements, 5);
  ASSERT_TRUE(CallEvaluate(*stub, Request("relu", kMiB), 1 << 20)
                  .status.ok());  // warm up
  const int64_t rss_before = server.MemoryBytes("VmRSS");
  const bool peak_reset = server.ResetPeakMemory();

  // Sends a 4 GiB tensor and never reads a result.
  grpc::ClientContext context;
  context.set_deadline(In(absl::Minutes(2)));
  auto stream = stub->EvaluateStream(&context);
  constexpr int64_t kElements = int64_t{1} << 30;
  std::atomic<int64_t> sent{0};
  std::thread writer([&] {
    if (!stream->Write(Header("relu", kElements, kMiB))) return;
    for (int64_t offset = 0; offset < kElements; offset += kPieceElements) {
      if (!stream->Write(Data(piece, offset, kPieceElements))) return;
      sent += kPieceElements * 4;
    }
  });
  absl::SleepFor(absl::Seconds(3));
  // Others are still served meanwhile.
  EXPECT_TRUE(CallEvaluate(*StubFor(server), Request("relu", 1000), 1 << 20)
                  .status.ok());
  const int64_t sent_by_then = sent.load();
  const int64_t peak = server.MemoryBytes("VmHWM");
  context.TryCancel();
  writer.join();
  Drain(*stream);
  stream->Finish();
  std::cout << "stalled reader: client got " << sent_by_then / kMiB
            << " MiB out in 3 s; server RSS " << rss_before / kMiB
            << " MiB before, peak " << peak / kMiB << " MiB\n";
  EXPECT_LT(sent_by_then, 256 * kMiB) << "flow control holds the client";
  if (peak_reset && !kSanitizedBuild) {
    EXPECT_LE(peak - rss_before, 64 * kMiB);
  }
}

}  // namespace
}  // namespace actserve::testing
