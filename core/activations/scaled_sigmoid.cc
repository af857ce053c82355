// scaled_sigmoid: y = 4 sigmoid(x) - 2 = 2 tanh(x / 2),
//                 y' = 4 sigmoid(x) (1 - sigmoid(x)) = sech^2(x / 2).
//
// The seed's 4 / (exp(-x) + 1) - 2 cancels near 0 (relative error ~1e-7 /
// |x| in float) and returns 0 for subnormal x. With a = |x|, e = exp(-a) and
// the sign copied back:
//  - a < ln 3 (e > 1/3): y = 2 (1 - e) / (1 + e) = -2m / (2 + m) with
//    m = expm1(-a) = 2^q p + (2^q - 1) from one exp split (q in {0, -1, -2},
//    so 2^q p and 2^q - 1 are exact and one rounding makes m). m keeps full
//    relative accuracy down to the subnormals, where y = -2m / 2 = a
//    exactly; no x / 2 is ever rounded.
//  - a >= ln 3: y = 2 - 4e / (1 + e), the subtracted term at most 1, so e's
//    error is not amplified and e -> 0 gives exactly 2.
//  - y' = 4e / (1 + e)^2 as in sigmoid: 4e from ExpScaled rounds once into
//    the subnormals (a > 85.2 float) and (1 + e)^2 = 1 + e (e + 2) by one
//    multiply-add.
// All in the lane type; no float64 lanes are needed.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/scaled_sigmoid.cc"
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

struct ScaledSigmoidOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const V a = hn::Abs(x);
    const V one = hn::Set(d, T{1});
    const V two = hn::Set(d, T{2});
    const ExpSplit<D> e_split(d, hn::Neg(a));
    const V pow2q =
        hn::Mul(e_split.scale,
                hn::Set(d, static_cast<T>(1.0 / 18446744073709551616.0)));
    const V m = hn::MulAdd(pow2q, e_split.poly, hn::Sub(pow2q, one));
    const V small = hn::Div(hn::Mul(m, hn::Set(d, T{-2})), hn::Add(two, m));
    const V e = hn::MulAdd(pow2q, e_split.poly, pow2q);
    const V large =
        hn::Sub(two, hn::Div(hn::Mul(e, hn::Set(d, T{4})), hn::Add(one, e)));
    const V ln3 = hn::Set(d, static_cast<T>(1.0986122886681098));
    return hn::CopySign(hn::IfThenElse(hn::Lt(a, ln3), small, large), x);
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const V four_e = ExpScaled(d, hn::Neg(hn::Abs(x)), 2);
    const V e = hn::Mul(four_e, hn::Set(d, T(0.25)));
    const V one_plus_e_sq =
        hn::MulAdd(e, hn::Add(e, hn::Set(d, T{2})), hn::Set(d, T{1}));
    return hn::Div(four_e, one_plus_e_sq);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // Where y' is subnormal, (1 + e)^2 rounds to 1: g y' = g 4 e.
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    return GTimesExpTail(d, g, hn::Neg(hn::Abs(x)), 2);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(ScaledSigmoidOp)

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
  return 2 * std::tanh(x / 2);
}
// 4 e / (1 + e)^2 with e = exp(-|x|): no cancellation, no overflow.
long double RefDerivative(long double x, const KernelParams&) {
  const long double e = std::exp(-std::fabs(x));
  return 4 * e / ((1 + e) * (1 + e));
}

}  // namespace

const ActivationDef& ScaledSigmoidActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "scaled_sigmoid",
      .kind = ActivationKind::kElementwise,
      .formula = "4 / (1 + exp(-x)) - 2",
      .derivative_formula = "4 * sigmoid(x) * (1 - sigmoid(x))",
      .description =
          "Sigmoid stretched to (-2, 2), zero-centred; equals "
          "2 * tanh(x / 2).",
      // Measured max over 10M points per dtype (dense [-1.2, 1.2], [-40, 40]
      // and the whole range), every target: forward 2.59, derivative 2.39,
      // backward 3.19 ULP (float32 and float64 alike).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.14, derivative
      // 2.15, backward 3.05 ULP in float32 and 2.49, 2.12, 2.68 in float64.
      .accuracy = {.ulp_f32 = 3.5, .ulp_f64 = 3.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (30 digits).
      .special_values = {{0.0, 0.0, 1},
                         {-0.0, -0.0, 1},
                         {kInf, 2, 0},
                         {-kInf, -2, 0},
                         {kNaN, kNaN, kNaN},
                         {0.5, 0.48983732480741826, 0.94001484880637796},
                         {-0.5, -0.48983732480741826, 0.94001484880637796},
                         {1e-3, 0.000999999916666675, 0.99999975000004167},
                         {2, 1.5231883119115298, 0.41997434161402607},
                         {-3, -1.8102965072897329, 0.18070663892364853},
                         {20, 1.9999999917553855, 8.2446144557673974e-9},
                         {-40, -2, 1.6993417021166356e-17},
                         {100, 2, 1.4880303904083344e-43},
                         // The seed gives 0 here (4 / (1 + 1) - 2).
                         {1e-30, 1e-30, 1},
                         {1e-40, 1e-40, 1}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
