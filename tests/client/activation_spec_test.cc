#include "client/activation_spec.h"

#include <cstring>

#include "client/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve::client {
namespace {

using ::testing::HasSubstr;

TEST(ActivationSpecTest, SetsOnlyTheGivenParameters) {
  absl::StatusOr<v1::ActivationSpec> spec = ParseActivationSpec(
      "hardtanh", {"min=-2", "max=2.5", "axis=-1", "pieces=3"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "hardtanh");
  EXPECT_EQ(spec->min(), -2);
  EXPECT_EQ(spec->max(), 2.5);
  EXPECT_EQ(spec->axis(), -1);
  EXPECT_EQ(spec->pieces(), 3);
  EXPECT_FALSE(spec->has_alpha());
  EXPECT_FALSE(spec->has_beta());
  EXPECT_FALSE(spec->has_threshold());
  EXPECT_FALSE(spec->has_channel_alpha());
}

TEST(ActivationSpecTest, ChannelAlphaFromListOrFile) {
  absl::StatusOr<v1::ActivationSpec> spec =
      ParseActivationSpec("prelu", {"channel_alpha=0.1,0.2,-3"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  const v1::Tensor& alpha = spec->channel_alpha();
  ASSERT_EQ(alpha.shape_size(), 1);
  EXPECT_EQ(alpha.shape(0), 3);
  EXPECT_EQ(alpha.dtype(), v1::DTYPE_FLOAT64);
  double values[3];
  ASSERT_EQ(alpha.data().size(), sizeof(values));
  std::memcpy(values, alpha.data().data(), sizeof(values));
  EXPECT_EQ(values[0], 0.1);
  EXPECT_EQ(values[2], -3);

  NpyArray array;
  array.shape = {2};
  array.data = std::string(8, '\0');
  const std::string path = ::testing::TempDir() + "/channel_alpha.npy";
  ASSERT_TRUE(WriteNpyFile(path, array).ok());
  spec = ParseActivationSpec("prelu", {"channel_alpha=" + path});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->channel_alpha().dtype(), v1::DTYPE_FLOAT32);
  EXPECT_EQ(spec->channel_alpha().shape(0), 2);
}

TEST(ActivationSpecTest, RejectsMalformedParameters) {
  const std::pair<const char*, const char*> cases[] = {
      {"alpha=abc", "takes a number"},
      {"axis=1.5", "takes an integer"},
      {"gamma=1", "KEY one of"},
      {"alpha", "takes a number"},
      {"channel_alpha=0.1,x", "not a number"},
      {"channel_alpha=/nonexistent.npy", "cannot open"},
  };
  for (const auto& [param, message] : cases) {
    EXPECT_THAT(ParseActivationSpec("x", {param}).status().message(),
                HasSubstr(message))
        << param;
  }
}

TEST(ActivationSpecTest, ParsesModes) {
  EXPECT_EQ(*ParseMode("forward"), v1::MODE_FORWARD);
  EXPECT_EQ(*ParseMode("derivative"), v1::MODE_DERIVATIVE);
  EXPECT_EQ(*ParseMode("backward"), v1::MODE_BACKWARD);
  EXPECT_FALSE(ParseMode("Forward").ok());
}

TEST(ActivationSpecTest, RequestFlagsFillActivationAndModeOnly) {
  absl::StatusOr<EvaluationRequest> request =
      ParseRequestFlags("elu", {"alpha=0.5"}, "backward");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->activation.name(), "elu");
  EXPECT_EQ(request->activation.alpha(), 0.5);
  EXPECT_EQ(request->mode, v1::MODE_BACKWARD);
  EXPECT_FALSE(request->grad_output.has_value());
  EXPECT_FALSE(ParseRequestFlags("elu", {}, "sideways").ok());
  EXPECT_FALSE(ParseRequestFlags("elu", {"alpha=x"}, "forward").ok());
}

}  // namespace
}  // namespace actserve::client
