// selu: y = lambda x for x > 0, lambda alpha (exp(x) - 1) for x <= 0;
//       y' = lambda for x > 0, lambda alpha exp(x) for x <= 0,
// with PyTorch's constants (self-normalizing networks, Klambauer et al. 2017)
//   lambda = 1.0507009873554804934193349852946,
//   alpha  = 1.6732632423543772848170429916717.
//
// lambda alpha (exp(x) - 1) never subtracts a rounded exp (the literal form
// loses all relative accuracy near 0): with exp(x) = 2^q (1 + p) (ExpSplit)
// and C = lambda alpha 2^q, it is C p + (C - lambda alpha) by one
// multiply-add, and lambda alpha exp(x) = (lambda alpha 2^{q+64}) (1 + p)
// 2^-64 rounds once into the subnormals, as in elu. The constants rounded to
// float are 0.29 (lambda) and 0.20 ULP (lambda alpha) off. All in the lane
// type.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/selu.cc"
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

constexpr double kLambda = 1.0507009873554804934193349852946;
// lambda alpha to 32 digits (the product of the rounded doubles is 1 ULP off).
constexpr double kLambdaAlpha = 1.7580993408473768599402175208123;

struct SeluOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const V c = hn::Set(d, static_cast<T>(kLambdaAlpha));
    const ExpSplit<D> e(d, hn::Min(x, hn::Zero(d)));
    // C = c 2^q; inexact only where it is subnormal, next to c itself.
    const V big_c =
        hn::Mul(hn::Mul(c, e.scale),
                hn::Set(d, static_cast<T>(1.0 / 18446744073709551616.0)));
    const V negative = hn::MulAdd(big_c, e.poly, hn::Sub(big_c, c));
    const V positive = hn::Mul(x, hn::Set(d, static_cast<T>(kLambda)));
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), positive, negative);
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const ExpSplit<D> e(d, hn::Min(x, hn::Zero(d)));
    const V c_scale =
        hn::Mul(hn::Set(d, static_cast<T>(kLambdaAlpha)), e.scale);
    const V negative =
        hn::Mul(hn::MulAdd(c_scale, e.poly, c_scale),
                hn::Set(d, static_cast<T>(1.0 / 18446744073709551616.0)));
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)),
                          hn::Set(d, static_cast<T>(kLambda)), negative);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // g lambda alpha exp(x), exp's 2^q folded into g lambda alpha (subnormal
  // y', x < 0).
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    return GTimesExpTail(d, hn::Mul(g, hn::Set(d, kLambdaAlpha)), x, 0);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(SeluOp)

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

constexpr long double kRefLambda = 1.0507009873554804934193349852946L;
constexpr long double kRefAlpha = 1.6732632423543772848170429916717L;

long double RefForward(long double x, const KernelParams&) {
  return x > 0 ? kRefLambda * x : kRefLambda * kRefAlpha * std::expm1(x);
}
long double RefDerivative(long double x, const KernelParams&) {
  return x > 0 ? kRefLambda : kRefLambda * kRefAlpha * std::exp(x);
}

}  // namespace

const ActivationDef& SeluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "selu",
      .kind = ActivationKind::kElementwise,
      .formula =
          "lambda * (x if x > 0 else alpha * (exp(x) - 1)), "
          "lambda = 1.0507009873554805, alpha = 1.6732632423543773",
      .derivative_formula = "lambda * (1 if x > 0 else alpha * exp(x))",
      .description =
          "Scaled exponential linear unit (self-normalizing "
          "networks), PyTorch's fixed constants.",
      // Measured max over 27M points per dtype (dense [-1, 0], [-0.4, -0.25],
      // [-40, 40] and the whole range), every target: forward 1.92,
      // derivative 1.30, backward 2.28 ULP (float32; float64 1.87, 1.17,
      // 2.11).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 1.74, derivative
      // 1.12, backward 1.86 ULP in float32 and 1.50, 1.10, 1.67 in float64.
      .accuracy = {.ulp_f32 = 2.5, .ulp_f64 = 2.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (40 digits).
      .special_values = {{0.0, 0.0, 1.7580993408473769},
                         {-0.0, -0.0, 1.7580993408473769},
                         {kInf, kInf, 1.0507009873554805},
                         {-kInf, -1.7580993408473769, 0},
                         {kNaN, kNaN, kNaN},
                         {1, 1.0507009873554805, 1.0507009873554805},
                         {2, 2.101401974710961, 1.0507009873554805},
                         {-1, -1.1113307378125628, 0.6467686030348141},
                         {-1e-3, -0.0017572205841202705, 1.7563421202632566},
                         {-0.3, -0.45566731537912211, 1.3024320254682547},
                         {-20, -1.758099337223664, 3.6237128249944116e-9},
                         {-100, -1.7580993408473769, 6.5402631213443938e-44},
                         {1e-30, 1.0507009873554805e-30, 1.0507009873554805}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
