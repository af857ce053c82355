// Many clients at once against the actserve binary. Load: 64 clients mix
// Evaluate and EvaluateStream calls of 4 bytes to 64 MiB for
// ACTSERVE_LOAD_SECONDS (60; scripts/soak.sh sets 600); every call must
// succeed with the core's bytes, the server's peak memory stay within what
// its limits allow for the calls in flight, and its fds and threads come back
// afterwards. Overload: calls beyond --max_concurrent_streams are refused at
// once, while the calls holding the slots carry on.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/reliability/process_stats.h"
#include "tests/server/server_process.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

constexpr int kClients = 64;
// Clients that send up to kLargestCallBytes; the rest stay within
// kSmallCallBytes, so that what is in flight at once fits a test machine.
constexpr int kLargeCallClients = 4;
constexpr int64_t kLargestCallBytes = int64_t{64} << 20;
constexpr int64_t kSmallCallBytes = int64_t{1} << 20;
constexpr int64_t kStreamPieceBytes = int64_t{1} << 20;
constexpr int64_t kMiB = int64_t{1} << 20;
const char* const kActivations[] = {"relu", "sigmoid", "gelu"};

absl::Duration LoadDuration() {
  const char* text = std::getenv("ACTSERVE_LOAD_SECONDS");
  int seconds = 60;
  if (text != nullptr && !absl::SimpleAtoi(text, &seconds)) seconds = 60;
  return absl::Seconds(seconds);
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

// Each client's own connection, as separate processes would have.
std::unique_ptr<v1::ActivationService::Stub> ClientStub(
    const std::string& address, int client) {
  grpc::ChannelArguments args = ClientArgs();
  args.SetInt("actserve.test_client", client);
  return v1::ActivationService::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args));
}

// The inputs every call takes a prefix of, and each activation's output for
// all of it: elementwise, so a prefix's output is the output's prefix.
struct Reference {
  std::string x;
  std::vector<std::string> outputs;  // per kActivations entry
};

const Reference& SharedReference() {
  static const Reference* const reference = [] {
    auto* r = new Reference;
    const int64_t elements = kLargestCallBytes / 4;
    r->x = RandomData(DType::kFloat32, elements, 7);
    for (const char* name : kActivations) {
      r->outputs.push_back(
          ComputeLocally(
              CreateEvaluation(
                  {name, {}, Mode::kForward, DType::kFloat32, {elements}}),
              r->x, "")
              .output);
    }
    return r;
  }();
  return *reference;
}

struct Tally {
  absl::Mutex mu;
  int64_t unary_calls = 0;
  int64_t stream_calls = 0;
  int64_t bytes = 0;
  int64_t largest = 0;
  absl::Duration slowest;
  std::vector<std::string> errors;

  void Add(bool stream, int64_t call_bytes, absl::Duration took,
           const std::string& error) {
    absl::MutexLock lock(&mu);
    (stream ? stream_calls : unary_calls) += 1;
    bytes += call_bytes;
    largest = std::max(largest, call_bytes);
    slowest = std::max(slowest, took);
    if (!error.empty()) errors.push_back(error);
  }
};

// One call of `elements` elements; an empty string when its results are
// exactly the core's.
std::string OneCall(v1::ActivationService::Stub& stub, bool stream,
                    int activation, int64_t elements) {
  const Reference& reference = SharedReference();
  const std::string& want = reference.outputs[static_cast<size_t>(activation)];
  const std::string name = kActivations[activation];
  grpc::ClientContext context;
  context.set_deadline(In(absl::Minutes(5)));
  if (!stream) {
    v1::EvaluateRequest request;
    request.mutable_activation()->set_name(name);
    v1::Tensor* input = request.add_inputs();
    input->add_shape(elements);
    input->set_dtype(v1::DTYPE_FLOAT32);
    input->set_data(reference.x.substr(0, static_cast<size_t>(elements) * 4));
    const EvaluateResult result =
        CallEvaluate(stub, request, 1 << 20, &context);
    if (!result.status.ok()) {
      return absl::StrCat("Evaluate ", elements, ": ",
                          result.status.error_code(), " ",
                          result.status.error_message());
    }
    if (result.outputs.size() != 1 ||
        result.outputs[0] != want.substr(0, result.outputs[0].size()) ||
        result.outputs[0].size() != static_cast<size_t>(elements) * 4) {
      return absl::StrCat("Evaluate ", elements, ": wrong results");
    }
    return "";
  }
  v1::StreamHeader header;
  header.mutable_activation()->set_name(name);
  header.add_shape(elements);
  header.set_dtype(v1::DTYPE_FLOAT32);
  int64_t sent = -1;  // -1: the header is next
  int64_t received = 0;
  bool matches = true;
  const StreamResult result = CallEvaluateStream(
      stub,
      [&](v1::EvaluateStreamRequest* request) {
        if (sent < 0) {
          *request->mutable_header() = header;
          sent = 0;
          return true;
        }
        if (sent == elements) return false;
        const int64_t n = std::min(kStreamPieceBytes / 4, elements - sent);
        request->mutable_data()->set_x_offset(sent);
        request->mutable_data()->set_x(reference.x.substr(
            static_cast<size_t>(sent) * 4, static_cast<size_t>(n) * 4));
        sent += n;
        return true;
      },
      &context,
      [&](const v1::OutputChunk& chunk) {
        const size_t at = static_cast<size_t>(chunk.element_offset()) * 4;
        matches = matches && at + chunk.data().size() <= want.size() &&
                  std::memcmp(chunk.data().data(), want.data() + at,
                              chunk.data().size()) == 0;
        received += static_cast<int64_t>(chunk.data().size()) / 4;
      });
  if (!result.status.ok()) {
    return absl::StrCat("EvaluateStream ", elements, ": ",
                        result.status.error_code(), " ",
                        result.status.error_message());
  }
  if (!matches || received != elements || result.done.size() != 1) {
    return absl::StrCat("EvaluateStream ", elements, ": wrong results");
  }
  return "";
}

// Bytes of one call: the large-call clients pick 1, 4, 16 or 64 MiB, the
// others anything from 4 bytes to 1 MiB, spread evenly over the powers of
// two (most calls are small, as in real traffic).
int64_t CallBytes(int client, std::mt19937_64& rng) {
  if (client < kLargeCallClients) {
    return kLargestCallBytes >>
           (2 * std::uniform_int_distribution<int>(0, 3)(rng));
  }
  const double log2 = std::uniform_real_distribution<double>(2.0, 20.0)(rng);
  return std::max<int64_t>(4, static_cast<int64_t>(std::exp2(log2)) & ~3);
}

// No thread per call or per connection: every kind of thread is as many as
// before, except gRPC core's own pools, which grow with load up to a fixed
// size and stay: its executor (2 threads per core) and its timer threads.
bool ThreadsStayedBounded(const std::map<std::string, int>& before,
                          const std::map<std::string, int>& after) {
  const int grpc_pool_limit =
      2 * static_cast<int>(std::thread::hardware_concurrency()) + 1;
  for (const auto& [name, count] : after) {
    const auto it = before.find(name);
    const int was = it == before.end() ? 0 : it->second;
    const bool grpc_pool =
        name == "default-executo" || name == "grpc_global_tim";
    if (count > (grpc_pool ? std::max(was, grpc_pool_limit) : was)) {
      return false;
    }
  }
  return true;
}

TEST(LoadTest, SixtyFourClientsMixingCallsOfAnySizeAllSucceed) {
  SharedReference();  // before the clock starts
  ServerProcess server({"--listen=127.0.0.1:0", "--log_level=warning"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  {  // Warm up: threads, buffers, allocator arenas.
    auto stub = ClientStub(server.address(), -1);
    ASSERT_EQ(OneCall(*stub, false, 0, 1 << 20), "");
    ASSERT_EQ(OneCall(*stub, true, 0, 1 << 20), "");
  }
  absl::SleepFor(absl::Milliseconds(500));
  const int fds_before = OpenFileCount(server.pid());
  const std::map<std::string, int> threads_before = ThreadsByName(server.pid());
  const int64_t rss_before = server.MemoryBytes("VmRSS");
  const bool peak_reset = server.ResetPeakMemory();

  Tally tally;
  const absl::Time end = absl::Now() + LoadDuration();
  std::vector<std::thread> clients;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      auto stub = ClientStub(server.address(), client);
      std::mt19937_64 rng(static_cast<uint64_t>(client) + 1);
      while (absl::Now() < end) {
        const int64_t bytes = CallBytes(client, rng);
        const bool stream = std::bernoulli_distribution(0.5)(rng);
        const int activation = std::uniform_int_distribution<int>(0, 2)(rng);
        const absl::Time start = absl::Now();
        const std::string error = OneCall(*stub, stream, activation, bytes / 4);
        tally.Add(stream, bytes, absl::Now() - start, error);
      }
    });
  }
  for (std::thread& client : clients) client.join();
  const int64_t peak = server.MemoryBytes("VmHWM");

  // Every connection is closed now: the server's fds and threads return.
  const int fds_after = WaitUntilAtMost(&OpenFileCount, server.pid(),
                                        fds_before, absl::Seconds(30));
  const std::map<std::string, int> threads_after = ThreadsByName(server.pid());
  // What the limits allow in flight: a whole request message twice (as
  // received, then parsed) for each unary call, and a few chunks for
  // everything else, plus allocator slack.
  const int64_t bound = kLargeCallClients * 2 * kLargestCallBytes +
                        (kClients - kLargeCallClients) * 4 * kSmallCallBytes +
                        128 * kMiB;
  std::cout << "load: " << kClients << " clients for "
            << absl::FormatDuration(LoadDuration()) << ": " << tally.unary_calls
            << " Evaluate and " << tally.stream_calls
            << " EvaluateStream calls, " << tally.bytes / kMiB
            << " MiB in, largest " << tally.largest / kMiB
            << " MiB, slowest call " << absl::FormatDuration(tally.slowest)
            << ", " << tally.errors.size() << " errors\n"
            << "server RSS " << rss_before / kMiB << " MiB before, peak "
            << peak / kMiB << " MiB (growth bound " << bound / kMiB << " MiB"
            << (kSanitizedBuild ? ", not checked under sanitizers" : "")
            << "); fds " << fds_before << " -> " << fds_after
            << "; threads before: " << ToString(threads_before)
            << "; after: " << ToString(threads_after) << "\n";
  for (size_t i = 0; i < std::min<size_t>(tally.errors.size(), 10); ++i) {
    ADD_FAILURE() << tally.errors[i];
  }
  EXPECT_TRUE(tally.errors.empty());
  EXPECT_GT(tally.unary_calls, kClients);
  EXPECT_GT(tally.stream_calls, kClients);
  EXPECT_EQ(fds_after, fds_before);
  EXPECT_TRUE(ThreadsStayedBounded(threads_before, threads_after));
  if (!kSanitizedBuild && peak_reset) {
    EXPECT_LE(peak - rss_before, bound);
  }
  EXPECT_EQ(OneCall(*ClientStub(server.address(), -2), false, 1, 1000), "")
      << "the server still answers";
}

TEST(LoadTest, CallsBeyondTheLimitAreRefusedAtOnceWhileTheOthersCarryOn) {
  constexpr int kSlots = 8;
  ServerProcess server({"--listen=127.0.0.1:0", "--log_level=warning",
                        absl::StrCat("--max_concurrent_streams=", kSlots)});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  const Reference& reference = SharedReference();

  // Every slot held by a stream midway through its tensor.
  constexpr int64_t kHeldElements = 4096;
  auto held_stub = ClientStub(server.address(), -1);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReaderWriter<
      v1::EvaluateStreamRequest, v1::EvaluateStreamResponse>>>
      held;
  auto data = [&](int64_t offset, int64_t n) {
    v1::EvaluateStreamRequest request;
    request.mutable_data()->set_x_offset(offset);
    request.mutable_data()->set_x(reference.x.substr(
        static_cast<size_t>(offset) * 4, static_cast<size_t>(n) * 4));
    return request;
  };
  for (int i = 0; i < kSlots; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(In(absl::Minutes(5)));
    held.push_back(held_stub->EvaluateStream(contexts.back().get()));
    v1::EvaluateStreamRequest header;
    header.mutable_header()->mutable_activation()->set_name("relu");
    header.mutable_header()->add_shape(kHeldElements);
    header.mutable_header()->set_dtype(v1::DTYPE_FLOAT32);
    header.mutable_header()->set_chunk_bytes(4096);  // 1024 elements a chunk
    ASSERT_TRUE(held.back()->Write(header));
    ASSERT_TRUE(held.back()->Write(data(0, kHeldElements / 2)));
    v1::EvaluateStreamResponse response;
    ASSERT_TRUE(held.back()->Read(&response));  // it holds its slot
  }

  // Overload: every client's calls are refused, each within its deadline
  // (a queued call would end DEADLINE_EXCEEDED instead).
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::atomic<int> listed{0};
  absl::Mutex mu;
  absl::Duration slowest;
  std::vector<std::thread> clients;
  constexpr int kCallsEach = 5;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      auto stub = ClientStub(server.address(), client);
      for (int i = 0; i < kCallsEach; ++i) {
        v1::EvaluateRequest request;
        request.mutable_activation()->set_name("relu");
        *request.add_inputs() = MakeTensor(DType::kFloat32, {256}, i);
        grpc::ClientContext context;
        context.set_deadline(In(absl::Seconds(10)));
        const absl::Time start = absl::Now();
        const EvaluateResult result =
            CallEvaluate(*stub, request, 1 << 20, &context);
        const absl::Duration took = absl::Now() - start;
        (result.status.error_code() == grpc::RESOURCE_EXHAUSTED ? refused
                                                                : other)++;
        absl::MutexLock lock(&mu);
        slowest = std::max(slowest, took);
      }
      grpc::ClientContext context;
      context.set_deadline(In(absl::Seconds(10)));
      v1::ListActivationsResponse list;
      if (stub->ListActivations(&context, {}, &list).ok()) ++listed;
    });
  }
  for (std::thread& client : clients) client.join();
  std::cout << "overload: " << refused << " of " << kClients * kCallsEach
            << " calls over " << kSlots
            << " slots refused RESOURCE_EXHAUSTED, slowest refusal "
            << absl::FormatDuration(slowest) << "\n";
  EXPECT_EQ(refused.load(), kClients * kCallsEach);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(listed.load(), kClients) << "unlimited calls are still served";

  // The calls holding the slots finish whole.
  const std::string& want = reference.outputs[0];
  for (auto& stream : held) {
    ASSERT_TRUE(stream->Write(data(kHeldElements / 2, kHeldElements / 2)));
    stream->WritesDone();
  }
  for (auto& stream : held) {
    const DrainedStream drained = DrainFloat32Stream(*stream, want);
    EXPECT_TRUE(drained.status.ok()) << drained.status.error_message();
    EXPECT_TRUE(drained.done && drained.matches);
    EXPECT_EQ(1024 + drained.elements, kHeldElements);  // + the chunk read
  }
}

}  // namespace
}  // namespace actserve::testing
