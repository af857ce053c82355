// ListActivations reports exactly what the core's registry holds.
#include <algorithm>
#include <memory>
#include <string>

#include "core/registry.h"
#include "gtest/gtest.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

TEST(CatalogTest, ListsEveryActivationWithItsRegistryRecord) {
  std::unique_ptr<ActivationServer> server = StartServer(TestConfig());
  auto stub = InProcessStub(*server);
  grpc::ClientContext context;
  v1::ListActivationsResponse response;
  ASSERT_TRUE(stub->ListActivations(&context, {}, &response).ok());

  const auto& defs = AllActivations();
  ASSERT_EQ(response.activations_size(), static_cast<int>(defs.size()));
  for (size_t i = 0; i < defs.size(); ++i) {
    const ActivationDef& def = *defs[i];
    const v1::ActivationInfo& info = response.activations(static_cast<int>(i));
    SCOPED_TRACE(def.name);
    EXPECT_EQ(info.name(), def.name);
    EXPECT_EQ(info.kind(), def.kind == ActivationKind::kElementwise
                               ? v1::ActivationInfo::KIND_ELEMENTWISE
                           : def.kind == ActivationKind::kAlongAxis
                               ? v1::ActivationInfo::KIND_ALONG_AXIS
                               : v1::ActivationInfo::KIND_GROUPED);
    EXPECT_EQ(info.formula(), def.formula);
    EXPECT_EQ(info.derivative_formula(), def.derivative_formula);
    EXPECT_EQ(info.description(), def.description);
    EXPECT_EQ(info.max_ulp_float32(), def.accuracy.ulp_f32);
    EXPECT_EQ(info.max_ulp_float64(), def.accuracy.ulp_f64);
    double abs_error_near_roots = 0;
    ASSERT_EQ(info.abs_error_windows_size(),
              static_cast<int>(def.accuracy.abs_error_windows.size()));
    for (size_t j = 0; j < def.accuracy.abs_error_windows.size(); ++j) {
      const AbsErrorWindow& want = def.accuracy.abs_error_windows[j];
      const v1::AbsErrorWindow& got =
          info.abs_error_windows(static_cast<int>(j));
      EXPECT_EQ(got.mode(), want.mode == Mode::kDerivative ? v1::MODE_DERIVATIVE
                                                           : v1::MODE_BACKWARD);
      EXPECT_EQ(got.dtype(), want.dtype == DType::kFloat32 ? v1::DTYPE_FLOAT32
                                                           : v1::DTYPE_FLOAT64);
      EXPECT_EQ(got.centre(), want.centre);
      EXPECT_EQ(got.half_width(), want.half_width);
      EXPECT_EQ(got.max_abs_error(), want.max_abs_error);
      abs_error_near_roots = std::max(abs_error_near_roots, want.max_abs_error);
    }
    EXPECT_EQ(info.abs_error_near_roots(), abs_error_near_roots);
    EXPECT_EQ(info.backward_cancel_ulp_float32(),
              def.accuracy.backward_cancel_ulp_f32);
    EXPECT_EQ(info.backward_cancel_ulp_float64(),
              def.accuracy.backward_cancel_ulp_f64);
    ASSERT_EQ(info.modes_size(), 3);
    EXPECT_EQ(info.modes(0), v1::MODE_FORWARD);
    EXPECT_EQ(info.modes(1), v1::MODE_DERIVATIVE);
    EXPECT_EQ(info.modes(2), v1::MODE_BACKWARD);

    ASSERT_EQ(info.parameters_size(), static_cast<int>(def.params.size()));
    int learnable = 0;
    for (size_t j = 0; j < def.params.size(); ++j) {
      const ParamDef& param = def.params[j];
      const v1::ParameterInfo& p = info.parameters(static_cast<int>(j));
      EXPECT_EQ(p.name(), ParamName(param.id));
      const v1::ParameterInfo::Type type =
          param.id == ParamId::kChannelAlpha
              ? v1::ParameterInfo::TYPE_CHANNEL_TENSOR
          : IsIntegerParam(param.id) ? v1::ParameterInfo::TYPE_INTEGER
                                     : v1::ParameterInfo::TYPE_REAL;
      EXPECT_EQ(p.type(), type) << p.name();
      EXPECT_EQ(p.default_value(), param.default_value);
      EXPECT_EQ(p.description(), param.description);
      EXPECT_EQ(p.domain(), param.domain);
      EXPECT_EQ(p.learnable(), param.learnable);
      if (param.learnable) {
        ASSERT_LT(learnable, info.learnable_parameters_size());
        EXPECT_EQ(info.learnable_parameters(learnable++), p.name());
      }
    }
    EXPECT_EQ(info.learnable_parameters_size(), learnable);
  }
}

}  // namespace
}  // namespace actserve::testing
