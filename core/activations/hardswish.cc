// hardswish: y = x * relu6(x + 3) / 6 (MobileNetV3, PyTorch's definition).
//
// x * (x + 3) / 6 in the middle: x + 3 is exact near the root at -3
// (Sterbenz), and near 0 every factor keeps its relative accuracy, so there
// is no cancellation anywhere: three roundings, bound 2 ULP. The derivative
// follows PyTorch's hardswish_backward: 0 for x < -3, (2x + 3) / 6 for
// -3 <= x <= 3 (so -1/2 at -3 and 3/2 at 3), 1 above; (2x + 3) / 6 rather
// than x / 3 + 1/2 because 2x + 3 is exact near the derivative's root -1.5.
// No float64, at memory speed.
// Measured over the whole finite range (upstream gradients of every
// magnitude): f32 forward 1.86, derivative 1.0, backward 1.90 ULP; f64 1.90,
// 1.0, 1.54 ULP.
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/hardswish.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/elementwise-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct HardswishOp {
  ACTSERVE_PIECEWISE_LINEAR
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    const V mid = hn::Div(hn::Mul(x, hn::Add(x, hn::Set(d, 3))), hn::Set(d, 6));
    return hn::IfThenElse(hn::Le(x, hn::Set(d, -3)), hn::Zero(d),
                          hn::IfThenElse(hn::Ge(x, hn::Set(d, 3)), x, mid));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    const V mid = hn::Div(hn::Add(hn::Add(x, x), hn::Set(d, 3)), hn::Set(d, 6));
    return hn::IfThenElse(
        hn::Lt(x, hn::Set(d, -3)), hn::Zero(d),
        hn::IfThenElse(hn::Gt(x, hn::Set(d, 3)), hn::Set(d, 1), mid));
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(HardswishOp)

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

long double RefForward(long double x, const KernelParams&) {
  return x <= -3 ? 0.0L : x >= 3 ? x : x * (x + 3) / 6;
}
long double RefDerivative(long double x, const KernelParams&) {
  return x < -3 ? 0.0L : x > 3 ? 1.0L : (2 * x + 3) / 6;
}

}  // namespace

const ActivationDef& HardswishActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "hardswish",
      .kind = ActivationKind::kElementwise,
      .formula = "0 if x <= -3, x if x >= 3, else x (x + 3) / 6",
      .derivative_formula = "0 if x < -3, 1 if x > 3, else (2x + 3) / 6",
      .description = "Piecewise-quadratic swish (MobileNetV3).",
      .accuracy = {.ulp_f32 = 2, .ulp_f64 = 2},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // By hand: x (x + 3) / 6 and (2x + 3) / 6.
      .special_values = {{0.0, 0.0, 0.5},
                         {-0.0, -0.0, 0.5},
                         {1, 0.66666666666666667, 0.83333333333333333},
                         {-1.5, -0.375, 0},
                         {-1, -0.33333333333333333, 0.16666666666666667},
                         {-3, 0, -0.5},
                         {3, 3, 1.5},
                         {4, 4, 1},
                         {kInf, kInf, 1},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
