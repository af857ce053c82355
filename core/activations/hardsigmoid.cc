// hardsigmoid: y = relu6(x + 3) / 6 (PyTorch's definition).
//
// (x + 3) / 6 rather than x / 6 + 0.5: near x = -3, where y -> 0, x + 3 is
// exact (Sterbenz) and the division rounds once, so y keeps full relative
// accuracy; x * (1/6) + 0.5 would cancel there and carry the error of 1/6.
// Elsewhere x + 3 and the division round once each: bound 1.5 ULP. The
// derivative is 1/6 on the open interval (-3, 3) and 0 elsewhere, as PyTorch;
// backward divides g by 6 (one rounding). No float64, at memory speed.
// Measured over the whole finite range (upstream gradients of every
// magnitude): forward 1.0, derivative 0.33, backward 0.5 ULP (f32 and f64).
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/hardsigmoid.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/elementwise-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct HardsigmoidOp {
  ACTSERVE_PIECEWISE_LINEAR
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    const V mid = hn::Div(hn::Add(x, hn::Set(d, 3)), hn::Set(d, 6));
    return hn::IfThenElse(
        hn::Le(x, hn::Set(d, -3)), hn::Zero(d),
        hn::IfThenElse(hn::Ge(x, hn::Set(d, 3)), hn::Set(d, 1), mid));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    return hn::IfThenElseZero(Inside(d, x), hn::Set(d, 1.0 / 6));
  }
  template <class D, class V = hn::Vec<D>>
  V Backward(D d, V x, V g, const VecParams<D>&) const {
    return hn::IfThenElseZero(Inside(d, x), hn::Div(g, hn::Set(d, 6)));
  }
  template <class D, class V = hn::Vec<D>>
  static hn::Mask<D> Inside(D d, V x) {
    return hn::And(hn::Gt(x, hn::Set(d, -3)), hn::Lt(x, hn::Set(d, 3)));
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(HardsigmoidOp)

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
  return x <= -3 ? 0.0L : x >= 3 ? 1.0L : (x + 3) / 6;
}
long double RefDerivative(long double x, const KernelParams&) {
  return x > -3 && x < 3 ? 1.0L / 6 : 0.0L;
}

}  // namespace

const ActivationDef& HardsigmoidActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "hardsigmoid",
      .kind = ActivationKind::kElementwise,
      .formula = "0 if x <= -3, 1 if x >= 3, else x / 6 + 1/2",
      .derivative_formula = "1/6 if -3 < x < 3 else 0",
      .description = "Piecewise-linear sigmoid (MobileNetV3).",
      .accuracy = {.ulp_f32 = 1.5, .ulp_f64 = 1.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // By hand: (x + 3) / 6.
      .special_values = {{0.0, 0.5, 0.16666666666666666},
                         {-0.0, 0.5, 0.16666666666666666},
                         {1, 0.66666666666666667, 0.16666666666666666},
                         {-1.5, 0.25, 0.16666666666666666},
                         {-2.75, 0.041666666666666667, 0.16666666666666666},
                         {-3, 0, 0},
                         {3, 1, 0},
                         {kInf, 1, 0},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
