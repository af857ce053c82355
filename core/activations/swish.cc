// swish: y = x sigmoid(beta x),
// y' = sigmoid(beta x) (1 + beta x (1 - sigmoid(beta x))),
// dy/dbeta = x^2 sigmoid'(beta x), for the learnable beta.
//
// The stable formulation (exp(-|beta x|) with the product's rounding error
// folded back in, scaled so x e survives where e alone is subnormal, the
// root-centred form of y' next to its zero at beta x = -1.2785, and y'
// carried to about twice the precision so it rounds about once) is explained
// in core/kernels/swish-inl.h; that is the float64 path and the forward.
// Float32 y', g y' and the dL/dbeta terms are computed together in float64
// lanes (z = beta x exact, float32-grade exp and reciprocal, one final
// rounding; at beta = 1, as in silu, without the root-centred form, the root
// then lying in the root window), the terms summed in float64.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/swish.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// The headers below are re-included once per target by foreach_target.h.
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/swish-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

ACTSERVE_DEFINE_SWISH_KERNELS(/*kUnitBeta=*/false)

// float32: the terms share backward's float64 slopes.
double BackwardParamGradF32(const float* x, const float* g, float* gx, size_t n,
                            const KernelParams& p) {
  return SwishFloat32</*kUnitBeta=*/false, EvalKind::kBackward,
                      /*kParamGrad=*/true>(x, g, gx, n, p);
}
double BackwardParamGradF64(const double* x, const double* g, double* gx,
                            size_t n, const KernelParams& p) {
  return BackwardParamGradLoop<SwishOp</*kUnitBeta=*/false>>(x, g, gx, n, p);
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "core/kernels/elementwise_export.h"
#include "core/kernels/swish_reference.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_BACKWARD_PARAM_GRAD_KERNELS()
ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(&DispatchBackwardParamGradF32,
                                    &DispatchBackwardParamGradF64)

long double RefForward(long double x, const KernelParams& p) {
  return SwishReference(x, p.beta);
}
long double RefDerivative(long double x, const KernelParams& p) {
  return SwishDerivativeReference(x, p.beta);
}
long double RefBetaDerivative(long double x, const KernelParams& p) {
  if (std::isinf(x)) return 0;
  const long double e = std::exp(-std::fabs(p.beta * x));
  return x * x * e / ((1 + e) * (1 + e));
}

}  // namespace

const ActivationDef& SwishActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "swish",
      .kind = ActivationKind::kElementwise,
      .params = {{.id = ParamId::kBeta,
                  .default_value = 1,
                  .description = "Slope of the gate sigmoid(beta * x); "
                                 "learnable (backward returns dL/dbeta).",
                  .domain = "finite",
                  .learnable = true}},
      .formula = "x * sigmoid(beta * x)",
      .derivative_formula =
          "sigmoid(beta * x) * (1 + beta * x * (1 - sigmoid(beta * x)))",
      .description = "Self-gated activation; silu when beta = 1.",
      // Measured max over 2M-3M points per range ([-1e4, 1e4], [-3, 3],
      // [-40, 40] plus log-uniform magnitudes, and around each beta's root of
      // y'), dtype and beta in {1, 0.5, 2, 0.3}, every target: float32
      // forward 3.1 ULP (2.65 but for beta 0.3, with float(beta) as the
      // kernels see it), derivative 0.63, backward 0.63; float64 2.72, 2.34,
      // 2.35.
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.33, derivative
      // 3.27, backward 2.62 ULP in float32 and 2.35, 1.91, 1.76 in float64
      // outside the root windows.
      .accuracy = {.ulp_f32 = 3.5,
                   .ulp_f64 = 3,
                   .abs_error_windows = {{Mode::kDerivative, DType::kFloat32,
                                          -1.2784645427610738, 1.3e-05,
                                          1.1e-12},
                                         {Mode::kBackward, DType::kFloat32,
                                          -1.2784645427610738, 2.2e-05,
                                          1.1e-12}}},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, &RefBetaDerivative},
      // Expected values from mpmath (40 digits), beta = 1.
      .special_values = {{0.0, 0.0, 0.5},
                         {-0.0, -0.0, 0.5},
                         {kInf, kInf, 1},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN},
                         {1, 0.73105857863000488, 0.92767051187148673},
                         {-1, -0.26894142136999512, 0.072329488128513268},
                         {-5, -0.033464254621424278, -0.026547432429665919},
                         {20, 19.999999958776928, 1.0000000391619187},
                         {-100, -3.720075976020836e-42,
                          -3.6828752162606276e-42}},
      .test_params = {{.beta = 0.5}, {.beta = 2}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
