#include "server/proto_conversion.h"

#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ProtoConversionTest, ModeUnspecifiedIsForward) {
  EXPECT_EQ(*ModeFromProto(v1::MODE_UNSPECIFIED), Mode::kForward);
  for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
    EXPECT_EQ(*ModeFromProto(ModeToProto(mode)), mode);
  }
}

TEST(ProtoConversionTest, DTypesRoundTrip) {
  for (DType dtype :
       {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    EXPECT_EQ(*DTypeFromProto(DTypeToProto(dtype)), dtype);
  }
}

TEST(ProtoConversionTest, ScalarHasOneElement) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_FLOAT64);
  tensor.set_data(std::string(8, '\0'));
  absl::StatusOr<TensorView> view = ValidateTensor(tensor);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->elements, 1);
  EXPECT_TRUE(view->shape.empty());
}

TEST(ProtoConversionTest, SpecParametersMapToActivationParams) {
  v1::ActivationSpec spec;
  spec.set_alpha(0.5);
  spec.set_axis(-2);
  spec.set_threshold(3);
  absl::StatusOr<ActivationParams> params = ParamsFromProto(spec);
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->alpha, 0.5);
  EXPECT_EQ(params->axis, -2);
  EXPECT_EQ(params->threshold, 3.0);
  EXPECT_FALSE(params->beta.has_value());
  EXPECT_FALSE(params->pieces.has_value());
  EXPECT_FALSE(params->min.has_value());
  EXPECT_FALSE(params->max.has_value());
  EXPECT_TRUE(params->channel_alpha.empty());
}

TEST(ProtoConversionTest, ChannelAlphaDecodesFromEveryDType) {
  const std::vector<float> values = {0.25f, -1.5f, 3.0f};
  for (DType dtype :
       {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    v1::ActivationSpec spec;
    v1::Tensor* alpha = spec.mutable_channel_alpha();
    alpha->add_shape(3);
    alpha->set_dtype(DTypeToProto(dtype));
    std::string data(3 * ItemSize(dtype), '\0');
    if (dtype == DType::kFloat64) {
      const double d[] = {0.25, -1.5, 3.0};
      std::memcpy(data.data(), d, sizeof(d));
    } else if (dtype == DType::kFloat32) {
      std::memcpy(data.data(), values.data(), data.size());
    } else {
      NarrowFromFloat32(dtype, values.data(), data.data(), 3);
    }
    alpha->set_data(data);
    absl::StatusOr<ActivationParams> params = ParamsFromProto(spec);
    ASSERT_TRUE(params.ok()) << params.status();
    // All three values are exact in every dtype.
    EXPECT_THAT(params->channel_alpha, ElementsAre(0.25, -1.5, 3.0))
        << DTypeName(dtype);
  }
}

TEST(ProtoConversionTest, EmptyChannelAlphaMeansUnset) {
  v1::ActivationSpec spec;
  spec.mutable_channel_alpha();
  absl::StatusOr<ActivationParams> params = ParamsFromProto(spec);
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_TRUE(params->channel_alpha.empty());
}

TEST(ProtoConversionTest, ChannelAlphaWithoutDTypeIsRejected) {
  v1::ActivationSpec spec;
  spec.mutable_channel_alpha()->add_shape(2);
  EXPECT_THAT(ParamsFromProto(spec).status().message(),
              HasSubstr("channel_alpha: dtype: unset"));
}

TEST(ProtoConversionTest, ParameterGradientIsEncodedInTheInputDType) {
  ParameterGradient gradient{"alpha", {2}, {1.5, -2.0}};
  v1::ParameterGradient proto;
  ParameterGradientToProto(gradient, DType::kFloat32, &proto);
  EXPECT_EQ(proto.name(), "alpha");
  EXPECT_THAT(proto.gradient().shape(), ElementsAre(2));
  EXPECT_EQ(proto.gradient().dtype(), v1::DTYPE_FLOAT32);
  ASSERT_EQ(proto.gradient().data().size(), 8u);
  float values[2];
  std::memcpy(values, proto.gradient().data().data(), sizeof(values));
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[1], -2.0f);
}

}  // namespace
}  // namespace actserve
