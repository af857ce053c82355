// The Prometheus endpoint, scraped over HTTP as Prometheus would: every call
// moves the series the docs promise, by exactly what the call did.
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "actserve/v1/actserve.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/activation_server.h"

namespace actserve {
namespace {

using Labels = std::map<std::string, std::string>;

// GET http://<address>/metrics.
absl::StatusOr<std::string> Scrape(const std::string& address) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string body;
  const std::string url = absl::StrCat("http://", address, "/metrics");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION,
      +[](char* data, size_t size, size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
      });
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(url, ": ", curl_easy_strerror(code)));
  }
  return body;
}

// One line of the text format: name{key="value",...} value. Our label values
// hold no quotes, commas or escapes, which keeps the parsing short.
struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

std::vector<Sample> ParseSamples(absl::string_view text) {
  std::vector<Sample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    Sample sample;
    const size_t value_at = line.rfind(' ');
    EXPECT_TRUE(absl::SimpleAtod(line.substr(value_at + 1), &sample.value))
        << line;
    absl::string_view series = line.substr(0, value_at);
    const size_t brace = series.find('{');
    sample.name = std::string(series.substr(0, brace));
    if (brace != absl::string_view::npos) {
      absl::string_view labels = series.substr(brace + 1);
      absl::ConsumeSuffix(&labels, "}");
      for (absl::string_view pair :
           absl::StrSplit(labels, ',', absl::SkipEmpty())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(pair, '=');
        sample.labels[kv.first] = std::string(
            absl::StripSuffix(absl::StripPrefix(kv.second, "\""), "\""));
      }
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

// The metrics as one scrape saw them.
class Scraped {
 public:
  explicit Scraped(const std::string& address) {
    absl::StatusOr<std::string> text = Scrape(address);
    EXPECT_TRUE(text.ok()) << text.status();
    if (text.ok()) {
      text_ = *text;
      samples_ = ParseSamples(text_);
    }
  }

  // The sum over the series of `name` whose labels include `labels`.
  double Sum(absl::string_view name, const Labels& labels = {}) const {
    double sum = 0;
    for (const Sample& sample : samples_) {
      if (sample.name != name) continue;
      bool match = true;
      for (const auto& [key, value] : labels) {
        auto it = sample.labels.find(key);
        match = match && it != sample.labels.end() && it->second == value;
      }
      if (match) sum += sample.value;
    }
    return sum;
  }
  bool Has(absl::string_view name) const {
    for (const Sample& sample : samples_) {
      if (sample.name == name) return true;
    }
    return false;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<Sample> samples_;
};

ServerConfig MetricsConfig() {
  ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.metrics_listen = "127.0.0.1:0";
  return config;
}

std::unique_ptr<ActivationServer> Start(ServerConfig config) {
  absl::StatusOr<std::unique_ptr<ActivationServer>> server =
      ActivationServer::Start(std::move(config));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

v1::Tensor Float32Tensor(int64_t elements) {
  v1::Tensor tensor;
  tensor.add_shape(elements);
  tensor.set_dtype(v1::DTYPE_FLOAT32);
  tensor.set_data(std::string(elements * sizeof(float), '\0'));
  return tensor;
}

v1::EvaluateRequest EvaluateRequest(absl::string_view activation,
                                    int64_t elements) {
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name(std::string(activation));
  request.set_mode(v1::MODE_FORWARD);
  *request.add_inputs() = Float32Tensor(elements);
  return request;
}

grpc::Status Evaluate(v1::ActivationService::Stub& stub,
                      const v1::EvaluateRequest& request) {
  grpc::ClientContext context;
  auto reader = stub.Evaluate(&context, request);
  v1::EvaluateResponse response;
  while (reader->Read(&response)) {
  }
  return reader->Finish();
}

// Polls until `done` holds, for a condition the server reaches on its own
// threads; fails the test after a minute rather than hanging.
template <typename Condition>
void WaitUntil(Condition done) {
  const absl::Time give_up = absl::Now() + absl::Minutes(1);
  while (!done()) {
    ASSERT_LT(absl::Now(), give_up) << "the condition never held";
    absl::SleepFor(absl::Milliseconds(20));
  }
}

TEST(MetricsTest, OffUnlessAsked) {
  ServerConfig config = MetricsConfig();
  config.metrics_listen.clear();
  std::unique_ptr<ActivationServer> server = Start(config);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->metrics_address(), "");
}

TEST(MetricsTest, CallsMoveTheirSeries) {
  std::unique_ptr<ActivationServer> server = Start(MetricsConfig());
  ASSERT_NE(server, nullptr);
  auto stub = v1::ActivationService::NewStub(
      server->InProcessChannel(grpc::ChannelArguments()));
  const Scraped before(server->metrics_address());
  ASSERT_TRUE(before.Has("actserve_thread_pool_queue_depth")) << before.text();

  constexpr int64_t kElements = 1000;
  const v1::EvaluateRequest relu = EvaluateRequest("relu", kElements);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Evaluate(*stub, relu).ok());
  const grpc::Status unknown =
      Evaluate(*stub, EvaluateRequest("not-an-activation-7f3a", kElements));
  ASSERT_FALSE(unknown.ok());
  {
    grpc::ClientContext context;
    v1::ListActivationsResponse response;
    ASSERT_TRUE(stub->ListActivations(&context, {}, &response).ok());
  }

  const Scraped after(server->metrics_address());
  auto delta = [&](absl::string_view name, const Labels& labels) {
    return after.Sum(name, labels) - before.Sum(name, labels);
  };
  EXPECT_EQ(delta("actserve_calls_total", {{"method", "Evaluate"},
                                           {"activation", "relu"},
                                           {"mode", "forward"},
                                           {"code", "OK"}}),
            3);
  // Names outside the catalog share one label value: clients cannot create
  // series at will.
  const std::string unknown_code = absl::StatusCodeToString(
      static_cast<absl::StatusCode>(unknown.error_code()));
  EXPECT_EQ(delta("actserve_calls_total", {{"method", "Evaluate"},
                                           {"activation", "unknown"},
                                           {"code", unknown_code}}),
            1);
  EXPECT_EQ(after.text().find("not-an-activation"), std::string::npos);
  EXPECT_EQ(delta("actserve_calls_total",
                  {{"method", "ListActivations"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(delta("actserve_elements_total", {{"method", "Evaluate"},
                                              {"activation", "relu"},
                                              {"mode", "forward"}}),
            3 * kElements);
  EXPECT_EQ(
      delta("actserve_call_duration_seconds_count", {{"method", "Evaluate"}}),
      4);
  EXPECT_GT(
      delta("actserve_call_duration_seconds_sum", {{"method", "Evaluate"}}), 0);
  // Each call's tensor went in and its result came out.
  EXPECT_GE(delta("actserve_request_bytes_total", {{"method", "Evaluate"}}),
            3 * kElements * sizeof(float));
  EXPECT_GE(delta("actserve_response_bytes_total", {{"method", "Evaluate"}}),
            3 * kElements * sizeof(float));
  EXPECT_GT(
      delta("actserve_response_bytes_total", {{"method", "ListActivations"}}),
      0);
  EXPECT_EQ(after.Sum("actserve_calls_in_flight"), 0);
}

TEST(MetricsTest, InFlightCountsAnOpenStream) {
  std::unique_ptr<ActivationServer> server = Start(MetricsConfig());
  ASSERT_NE(server, nullptr);
  auto stub = v1::ActivationService::NewStub(
      server->InProcessChannel(grpc::ChannelArguments()));
  auto in_flight = [&] {
    return Scraped(server->metrics_address())
        .Sum("actserve_calls_in_flight", {{"method", "EvaluateStream"}});
  };
  ASSERT_EQ(in_flight(), 0);

  grpc::ClientContext context;
  auto stream = stub->EvaluateStream(&context);
  v1::EvaluateStreamRequest header;
  header.mutable_header()->mutable_activation()->set_name("sigmoid");
  header.mutable_header()->set_mode(v1::MODE_FORWARD);
  header.mutable_header()->set_dtype(v1::DTYPE_FLOAT32);
  header.mutable_header()->add_shape(4);
  ASSERT_TRUE(stream->Write(header));
  WaitUntil([&] { return in_flight() == 1; });

  v1::EvaluateStreamRequest data;
  data.mutable_data()->set_x(std::string(4 * sizeof(float), '\0'));
  ASSERT_TRUE(stream->Write(data));
  stream->WritesDone();
  v1::EvaluateStreamResponse response;
  while (stream->Read(&response)) {
  }
  ASSERT_TRUE(stream->Finish().ok());
  // The server records the call as it sends the status, which may reach us
  // first.
  WaitUntil([&] { return in_flight() == 0; });
  const Scraped after(server->metrics_address());
  EXPECT_EQ(after.Sum("actserve_calls_total", {{"method", "EvaluateStream"},
                                               {"activation", "sigmoid"},
                                               {"code", "OK"}}),
            1);
  EXPECT_EQ(
      after.Sum("actserve_elements_total", {{"method", "EvaluateStream"}}), 4);
}

TEST(MetricsTest, BusyMetricsPortFailsTheStart) {
  std::unique_ptr<ActivationServer> first = Start(MetricsConfig());
  ASSERT_NE(first, nullptr);
  ServerConfig config = MetricsConfig();
  config.metrics_listen = first->metrics_address();
  absl::StatusOr<std::unique_ptr<ActivationServer>> second =
      ActivationServer::Start(config);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(first->metrics_address()),
            std::string::npos)
      << second.status();
}

TEST(MetricsTest, MetricsAddressMustBeHostPort) {
  ServerConfig config = MetricsConfig();
  config.metrics_listen = "9090";
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config.metrics_listen = "unix:/tmp/metrics.sock";
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace actserve
