// A 1 GiB tensor through EvaluateStream: the server's memory follows the
// chunk size, not the tensor size. The server runs as its own process so its
// peak RSS (VmHWM) is its alone.
#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

constexpr int64_t kTensorBytes = int64_t{1} << 30;
constexpr int64_t kPieceBytes = 256 << 10;
constexpr int64_t kChunkBytes = 1 << 20;
constexpr int64_t kMaxGrowthBytes = 64 << 20;

// x[i] for a range: cheap to regenerate when checking the results, and
// both signs, so relu has work to do.
void FillInput(int64_t first, float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>((first + i) % 2001 - 1000) * 0.25f;
  }
}

TEST(StreamMemoryTest, OneGibibyteStreamKeepsServerMemoryBounded) {
  const std::string address = absl::StrCat("unix:", MakeTempDir(), "/sock");
  ServerProcess server({"--listen=" + address, "--log_level=warning"});
  ASSERT_TRUE(server.WaitUntilListening()) << server.Stderr();
  auto stub = v1::ActivationService::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), ClientArgs()));

  const int64_t elements = kTensorBytes / 4;
  const Evaluation evaluation = CreateEvaluation(
      {"relu", {}, Mode::kForward, DType::kFloat32, {elements}});
  v1::StreamHeader header;
  header.mutable_activation()->set_name("relu");
  header.add_shape(elements);
  header.set_dtype(v1::DTYPE_FLOAT32);
  header.set_chunk_bytes(kChunkBytes);

  // Warm up (threads, buffers, allocator arenas), then measure from here.
  const std::string small = RandomData(DType::kFloat32, 1 << 20, 1);
  v1::StreamHeader small_header = header;
  small_header.set_shape(0, 1 << 20);
  ASSERT_TRUE(CallEvaluateStream(*stub, StreamMessages(small_header, small, "",
                                                       kPieceBytes / 4, 0))
                  .status.ok());
  const bool peak_reset = server.ResetPeakMemory();
  const int64_t rss_before = server.MemoryBytes("VmRSS");

  int64_t sent = 0;
  bool header_sent = false;
  int64_t checked = 0;
  bool all_match = true;
  std::string expected;
  std::string input;
  const absl::Time start = absl::Now();
  const StreamResult result = CallEvaluateStream(
      *stub,
      [&](v1::EvaluateStreamRequest* request) {
        if (!header_sent) {
          *request->mutable_header() = header;
          header_sent = true;
          return true;
        }
        if (sent == elements) return false;
        const int64_t n = std::min(kPieceBytes / 4, elements - sent);
        v1::StreamData* data = request->mutable_data();
        data->set_x_offset(sent);
        std::string* x = data->mutable_x();
        x->resize(static_cast<size_t>(n) * 4);
        FillInput(sent, reinterpret_cast<float*>(x->data()), n);
        sent += n;
        return true;
      },
      nullptr,
      [&](const v1::OutputChunk& chunk) {
        const int64_t n = static_cast<int64_t>(chunk.data().size() / 4);
        if (chunk.element_offset() != checked) all_match = false;
        input.resize(chunk.data().size());
        expected.resize(chunk.data().size());
        FillInput(checked, reinterpret_cast<float*>(input.data()), n);
        if (!evaluation
                 .Run(checked, n, input.data(), nullptr, expected.data(),
                      nullptr)
                 .ok() ||
            expected != chunk.data()) {
          all_match = false;
        }
        checked += n;
      });
  const absl::Duration elapsed = absl::Now() - start;
  const int64_t peak = server.MemoryBytes("VmHWM");

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(checked, elements);
  EXPECT_TRUE(all_match) << "results differ from the core's";
  ASSERT_EQ(result.done.size(), 1u);
  EXPECT_EQ(result.done[0].output_elements(), elements);

  const int64_t growth = peak - rss_before;
  std::cout << "1 GiB relu stream: server RSS before " << (rss_before >> 20)
            << " MiB, peak " << (peak >> 20) << " MiB, growth "
            << (growth >> 20) << " MiB"
            << (peak_reset ? "" : " (peak not reset: includes warm-up)") << "; "
            << absl::ToDoubleSeconds(elapsed) << " s, "
            << kTensorBytes / absl::ToDoubleSeconds(elapsed) / 1e9 << " GB/s\n";
  RecordProperty("server_rss_growth_bytes", std::to_string(growth));
  EXPECT_LT(growth, kMaxGrowthBytes);
}

}  // namespace
}  // namespace actserve::testing
