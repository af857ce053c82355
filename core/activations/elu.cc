// elu: y = x for x > 0, alpha (exp(x) - 1) for x <= 0;
//      y' = 1 for x > 0, alpha exp(x) for x <= 0 (the x <= 0 branch holds at
//      0).
//
// exp(x) - 1 is never formed by subtracting a rounded exp (the seed's
// np.exp(x) - 1 loses all relative accuracy near 0): with
// exp(x) = 2^q (1 + p), p = expm1 of the reduced argument (ExpSplit),
//   expm1(x) = 2^q p + (2^q - 1)
// by one fused multiply-add; 2^q - 1 is exact for q >= -24 (float), and
// below that it is -1 up to less than half an ULP. For |x| < ln2/2, q = 0 and
// the result is p itself. alpha exp(x) = (alpha 2^{q+64}) (1 + p) 2^-64
// rounds once into the subnormals (x < -87 float). All in the lane type.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/elu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// The headers below are re-included once per target by foreach_target.h.
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct EluOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>& p) const {
    using T = hn::TFromD<D>;
    const ExpSplit<D> e(d, hn::Min(x, hn::Zero(d)));
    const V pow2q = hn::Mul(
        e.scale, hn::Set(d, static_cast<T>(1.0 / 18446744073709551616.0)));
    const V expm1 = hn::MulAdd(pow2q, e.poly, hn::Sub(pow2q, hn::Set(d, T{1})));
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), x, hn::Mul(p.alpha, expm1));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    using T = hn::TFromD<D>;
    const ExpSplit<D> e(d, hn::Min(x, hn::Zero(d)));
    const V alpha_scale = hn::Mul(p.alpha, e.scale);
    const V alpha_exp =
        hn::Mul(hn::MulAdd(alpha_scale, e.poly, alpha_scale),
                hn::Set(d, static_cast<T>(1.0 / 18446744073709551616.0)));
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), hn::Set(d, T{1}), alpha_exp);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // g alpha exp(x), exp's 2^q folded into g alpha (subnormal y', x < 0).
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>& p) const {
    return GTimesExpTail(d, hn::Mul(g, p.alpha), x, 0);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(EluOp)

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

long double RefForward(long double x, const KernelParams& p) {
  return x > 0 ? x : p.alpha * std::expm1(x);
}
long double RefDerivative(long double x, const KernelParams& p) {
  return x > 0 ? 1 : p.alpha * std::exp(x);
}

}  // namespace

const ActivationDef& EluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "elu",
      .kind = ActivationKind::kElementwise,
      .params = {{.id = ParamId::kAlpha,
                  .default_value = 1,
                  .description = "Saturation value -alpha for x -> -inf.",
                  .domain = "finite (PyTorch allows any; usually > 0)"}},
      .formula = "x if x > 0 else alpha * (exp(x) - 1)",
      .derivative_formula = "1 if x > 0 else alpha * exp(x)",
      .description = "Exponential linear unit.",
      // Measured max over 4.5M points per dtype and alpha in {1, 0.5},
      // every target: forward 1.12, derivative 0.99, backward 1.75 ULP.
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 0.89, derivative
      // 0.94, backward 1.57 ULP in float32 and 1.16, 0.96, 1.51 in float64.
      .accuracy = {.ulp_f32 = 2, .ulp_f64 = 2},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (40 digits), alpha = 1.
      .special_values = {{0.0, 0.0, 1},
                         {-0.0, -0.0, 1},
                         {kInf, kInf, 1},
                         {-kInf, -1, 0},
                         {kNaN, kNaN, kNaN},
                         {2, 2, 1},
                         {-1, -0.63212055882855768, 0.36787944117144232},
                         {-1e-3, -0.00099950016662500833, 0.99900049983337499},
                         {-0.3, -0.25918177931828213, 0.74081822068171787},
                         {-20, -0.99999999793884638, 2.0611536224385578e-9},
                         {-100, -1, 3.720075976020836e-44}},
      .test_params = {{.alpha = 0.5}, {.alpha = 2}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
