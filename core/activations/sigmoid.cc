// sigmoid: y = 1 / (1 + e^-x), y' = y (1 - y).
//
// Both are written in terms of e = exp(-|x|) <= 1, so nothing overflows and
// the tails keep full relative accuracy (the seed's 1/(exp(-x)+1) flushes
// sigmoid'(x) to 0 long before the true value underflows):
//   y = 1 / (1 + e) (x >= 0), e / (1 + e) (x < 0): one division;
//   y' = e / (1 + e)^2 with (1 + e)^2 = 1 + e (e + 2) by one fused
//   multiply-add, so 1 + e is never rounded and then squared (which cost
//   4.5 ULP in the backward pass), and e's own error is damped by
//   (1 - e) / (1 + e).
// e comes from ExpScaled, which rounds once into the subnormals (|x| > 87.3
// float), where 1 + e = 1 exactly: no float64 lanes are needed.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/sigmoid.cc"
// clang-format off: foreach_target.h re-includes this file once per target and
// must come before everything else.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct SigmoidOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const V one = hn::Set(d, T{1});
    const V e = ExpScaled(d, hn::Neg(hn::Abs(x)), 0);
    const V numerator = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, one);
    return hn::Div(numerator, hn::Add(one, e));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const V e = ExpScaled(d, hn::Neg(hn::Abs(x)), 0);
    const V one_plus_e_sq =
        hn::MulAdd(e, hn::Add(e, hn::Set(d, T{2})), hn::Set(d, T{1}));
    return hn::Div(e, one_plus_e_sq);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // Where y' is subnormal, (1 + e)^2 rounds to 1: g y' = g e.
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    return GTimesExpTail(d, g, hn::Neg(hn::Abs(x)), 0);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(SigmoidOp)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "core/kernels/elementwise_export.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(nullptr, nullptr)

long double RefForward(long double x, const KernelParams&) {
  const long double e = std::exp(-std::fabs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}
long double RefDerivative(long double x, const KernelParams&) {
  const long double e = std::exp(-std::fabs(x));
  return e / ((1 + e) * (1 + e));
}

}  // namespace

const ActivationDef& SigmoidActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "sigmoid",
      .kind = ActivationKind::kElementwise,
      .formula = "1 / (1 + exp(-x))",
      .derivative_formula = "sigmoid(x) * (1 - sigmoid(x))",
      .description = "Logistic function; squashes to (0, 1).",
      // Measured max over 6M points per dtype (dense [-40, 40] and the whole
      // range), every target: forward 2.41, derivative 2.36, backward 3.26
      // ULP (float32 and float64 alike).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.12, derivative
      // 2.15, backward 3.05 ULP in float32 and 2.14, 2.12, 2.68 in float64.
      .accuracy = {.ulp_f32 = 3.5, .ulp_f64 = 3.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      .special_values = {{0.0, 0.5, 0.25},
                         {-0.0, 0.5, 0.25},
                         {kInf, 1, 0},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN},
                         {20, 0.99999999793884638, 2.0611536139418493e-9},
                         {-100, 3.7200759760208360e-44, 3.7200759760208360e-44},
                         {1000, 1, 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
