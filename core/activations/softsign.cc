// softsign: y = x / (1 + |x|), y' = 1 / (1 + |x|)^2.
//
// The seed's 1 / (1 + |x|)^2 overflows the square for |x| > 1.8e19 (float)
// and returns 0 where the true value is still a (subnormal) float; dividing
// twice, (1 / (1 + |x|)) / (1 + |x|), never overflows and rounds once into
// the subnormals. |x| = inf gives +-1 (not inf / inf). All in the lane type:
// 1 + |x| carries 0.5 ULP, each division 0.5.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/softsign.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// The headers below are re-included once per target by foreach_target.h.
#include "core/kernels/elementwise-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct SoftsignOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    const V one = hn::Set(d, hn::TFromD<D>{1});
    const V y = hn::Div(x, hn::Add(one, hn::Abs(x)));
    return hn::IfThenElse(hn::IsInf(x), hn::CopySign(one, x), y);
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    const V one = hn::Set(d, hn::TFromD<D>{1});
    const V s = hn::Add(one, hn::Abs(x));
    return hn::Div(hn::Div(one, s), s);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // g y' = (g / s) / s: never rounds the subnormal 1 / s^2.
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    const V s = hn::Add(hn::Set(d, 1.0), hn::Abs(x));
    return hn::Div(hn::Div(g, s), s);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(SoftsignOp)

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
  if (std::isinf(x)) return x > 0 ? 1 : -1;
  return x / (1 + std::fabs(x));
}
long double RefDerivative(long double x, const KernelParams&) {
  const long double s = 1 + std::fabs(x);
  return 1 / s / s;
}

}  // namespace

const ActivationDef& SoftsignActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "softsign",
      .kind = ActivationKind::kElementwise,
      .formula = "x / (1 + |x|)",
      .derivative_formula = "1 / (1 + |x|)^2",
      .description = "Rational squashing to (-1, 1); polynomial tails.",
      // Measured max over 4.5M points per dtype, every target: forward 1.5,
      // derivative 2.97, backward 3.36 ULP.
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 1.49, derivative
      // 2.89, backward 3.33 ULP in float32 and 1.44, 2.92, 3.02 in float64.
      .accuracy = {.ulp_f32 = 3.5, .ulp_f64 = 3.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (40 digits).
      .special_values = {{0.0, 0.0, 1},
                         {-0.0, -0.0, 1},
                         {kInf, 1, 0},
                         {-kInf, -1, 0},
                         {kNaN, kNaN, kNaN},
                         {1, 0.5, 0.25},
                         {-1, -0.5, 0.25},
                         {0.5, 0.33333333333333333, 0.44444444444444444},
                         {-3, -0.75, 0.0625},
                         {1e10, 0.9999999999, 9.999999998e-21},
                         {1e20, 1, 1e-40},
                         {-1e30, -1, 1e-60}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
