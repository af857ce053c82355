// silu: y = x sigmoid(x), y' = sigmoid(x) (1 + x (1 - sigmoid(x))).
//
// swish with beta = 1; the stable formulation (exp(-|x|), scaled so x e(x)
// survives where e(x) alone is subnormal, the root-centred form of y' next to
// its zero at x = -1.2785, and y' carried to about twice the precision so it
// rounds about once) is explained in core/kernels/swish-inl.h; that is the
// float64 path and the forward. Float32 y' and g y' are computed in float64
// lanes (float32-grade exp and reciprocal, one final rounding; the root of
// y' lies inside the root window, so without the root-centred form).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/silu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// The headers below are re-included once per target by foreach_target.h.
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/swish-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

ACTSERVE_DEFINE_SWISH_KERNELS(/*kUnitBeta=*/true)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels/elementwise_export.h"
#include "core/kernels/swish_reference.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(nullptr, nullptr)

long double RefForward(long double x, const KernelParams&) {
  return SwishReference(x, 1);
}
long double RefDerivative(long double x, const KernelParams&) {
  return SwishDerivativeReference(x, 1);
}

}  // namespace

const ActivationDef& SiluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "silu",
      .kind = ActivationKind::kElementwise,
      .formula = "x * sigmoid(x)",
      .derivative_formula = "sigmoid(x) * (1 + x * (1 - sigmoid(x)))",
      .description = "Sigmoid-weighted linear unit (swish with beta = 1).",
      // Measured max over 2M points per range ([-1e4, 1e4], [-3, 3], [-40,
      // 40] plus log-uniform magnitudes, [-1.4, -1.15]) and dtype, every
      // target: float32 forward 2.44, derivative 0.58, backward 0.58 ULP;
      // float64 2.45, 1.87, 1.97.
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.33, derivative
      // 3.27, backward 2.62 ULP in float32 and 2.25, 1.90, 1.76 in float64
      // outside the root windows.
      .accuracy = {.ulp_f32 = 3.5,
                   .ulp_f64 = 2.5,
                   .abs_error_windows = {{Mode::kDerivative, DType::kFloat32,
                                          -1.2784645427610738, 1.3e-05,
                                          1.1e-12},
                                         {Mode::kBackward, DType::kFloat32,
                                          -1.2784645427610738, 2.2e-05,
                                          1.1e-12}}},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (40 digits).
      .special_values =
          {{0.0, 0.0, 0.5},
           {-0.0, -0.0, 0.5},
           {kInf, kInf, 1},
           {-kInf, 0, 0},
           {kNaN, kNaN, kNaN},
           {1, 0.73105857863000488, 0.92767051187148673},
           {-1, -0.26894142136999512, 0.072329488128513268},
           {-5, -0.033464254621424278, -0.026547432429665919},
           {5, 4.9665357453785757, 1.0265474324296659},
           {-20, -4.1223072363804072e-8, -3.9161918660646783e-8},
           {20, 19.999999958776928, 1.0000000391619187},
           {-88, -5.3280496679530436e-37, -5.2675036489990317e-37},
           {-100, -3.720075976020836e-42, -3.6828752162606276e-42},
           {-745, -2.1026512942015931e-321, -2.0998289434711212e-321},
           {100, 100, 1},
           {-1000, 0, 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
