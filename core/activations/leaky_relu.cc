// leaky_relu: y = x for x > 0, alpha * x otherwise (alpha = 0.01).
//
// The x <= 0 branch holds at 0, as in the seed and PyTorch, so
// leaky_relu'(0) = alpha. Selects and one multiply, all in the input type,
// so the forward pass runs at memory speed. The product rounds once (0.5 ULP)
// and alpha rounded to T adds a relative 2^-24 in float32 (up to 1 ULP):
// bound 1.5 ULP in f32, 0.5 ULP in f64. Measured over the whole finite
// range, every mode: f32 0.84 ULP, f64 0.5 ULP.
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/leaky_relu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/leaky_slope-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(LeakySlopeOp)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels/elementwise_export.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(nullptr, nullptr)

long double RefForward(long double x, const KernelParams& p) {
  if (x > 0) return x;
  return p.alpha == 0 ? 0.0L : p.alpha * x;
}
long double RefDerivative(long double x, const KernelParams& p) {
  return x > 0 ? 1.0L : static_cast<long double>(p.alpha);
}

}  // namespace

const ActivationDef& LeakyReluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "leaky_relu",
      .kind = ActivationKind::kElementwise,
      // Any finite slope, as PyTorch's negative_slope: alpha > 1 or < 0 give
      // non-monotone or steeper variants, which some models use on purpose.
      .params = {{.id = ParamId::kAlpha,
                  .default_value = 0.01,
                  .description = "slope for x <= 0",
                  .domain = "finite"}},
      .formula = "x if x > 0 else alpha * x",
      .derivative_formula = "1 if x > 0 else alpha",
      .description = "Rectifier with a small fixed slope for negative inputs.",
      .accuracy = {.ulp_f32 = 1.5, .ulp_f64 = 0.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values by hand: 0.01 * x, exact in decimal.
      .special_values = {{0.0, 0.0, 0.01},
                         {-0.0, -0.0, 0.01},
                         {kInf, kInf, 1},
                         {-kInf, -kInf, 0.01},
                         {kNaN, kNaN, kNaN},
                         {-100, -1, 0.01},
                         {2.5, 2.5, 1},
                         {1e-45, 1e-45, 1},
                         {-1e-45, -1e-47, 0.01},
                         {-3e38, -3e36, 0.01}},
      .test_params = {{.alpha = 0.2}, {.alpha = -0.5}, {.alpha = 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
