#include "client/channel.h"

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace actserve::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ChannelTest, SeveralBackendsOnlyForListsAndDns) {
  EXPECT_TRUE(HasSeveralBackends("ipv4:10.0.0.1:1,10.0.0.2:1"));
  EXPECT_TRUE(HasSeveralBackends("ipv6:[::1]:1,[::1]:2"));
  EXPECT_TRUE(HasSeveralBackends("dns:///actserve.internal:50051"));
  EXPECT_FALSE(HasSeveralBackends("ipv4:10.0.0.1:1"));
  EXPECT_FALSE(HasSeveralBackends("127.0.0.1:50051"));
  EXPECT_FALSE(HasSeveralBackends("unix:/tmp/actserve.sock"));
}

TEST(ChannelTest, ServiceConfigRetriesUnavailableAndBalances) {
  const std::string single = ServiceConfigJson("localhost:50051");
  EXPECT_THAT(single, HasSubstr("\"pick_first\""));
  EXPECT_THAT(single, HasSubstr("\"retryableStatusCodes\": [\"UNAVAILABLE\"]"));
  EXPECT_THAT(single, HasSubstr("actserve.v1.ActivationService"));
  EXPECT_THAT(single, HasSubstr("grpc.health.v1.Health"));
  const std::string list = ServiceConfigJson("ipv4:127.0.0.1:1,127.0.0.1:2");
  EXPECT_THAT(list, HasSubstr("\"round_robin\""));
  EXPECT_THAT(list, Not(HasSubstr("pick_first")));
}

TEST(ChannelTest, ServiceConfigIsValidJson) {
  // gRPC would only complain about malformed JSON once a channel resolves.
  for (const char* target : {"127.0.0.1:1", "ipv4:127.0.0.1:1,127.0.0.1:2"}) {
    google::protobuf::Struct config;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    ServiceConfigJson(target), &config)
                    .ok())
        << ServiceConfigJson(target);
    const auto& method = config.fields().at("methodConfig").list_value();
    ASSERT_EQ(method.values_size(), 1);
    const auto& retry =
        method.values(0).struct_value().fields().at("retryPolicy");
    EXPECT_GE(retry.struct_value().fields().at("maxAttempts").number_value(),
              2);
  }
}

TEST(ChannelTest, TlsFileProblemsAreClearErrors) {
  ConnectionOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(channel.status().message(), HasSubstr("/nonexistent/ca.pem"));

  ConnectionOptions half;
  half.cert_file = "/nonexistent/client.pem";
  EXPECT_THAT(MakeChannel(half).status().message(), HasSubstr("go together"));

  ConnectionOptions huge;
  huge.max_message_bytes = int64_t{1} << 40;
  EXPECT_EQ(MakeChannel(huge).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace actserve::client
