// relu6: y = min(max(x, 0), 6), PyTorch's hardtanh(x, 0, 6).
//
// Compares and selects only: exact, at memory speed. The derivative is 1 on
// the open interval (0, 6) and 0 elsewhere, both kinks included, as PyTorch's
// hardtanh_backward; -0 gives +0 like relu (a select, not Max, whose signed
// zero differs between targets).
// Measured: 0 ULP (f32 and f64, every mode).
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/relu6.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/elementwise-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct Relu6Op {
  ACTSERVE_PIECEWISE_LINEAR
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    const V six = hn::Set(d, 6);
    return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)),
                              hn::IfThenElse(hn::Gt(x, six), six, x));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    return hn::IfThenElseZero(Inside(d, x), hn::Set(d, 1));
  }
  template <class D, class V = hn::Vec<D>>
  V Backward(D d, V x, V g, const VecParams<D>&) const {
    return hn::IfThenElseZero(Inside(d, x), g);
  }
  template <class D, class V = hn::Vec<D>>
  static hn::Mask<D> Inside(D d, V x) {
    return hn::And(hn::Gt(x, hn::Zero(d)), hn::Lt(x, hn::Set(d, 6)));
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(Relu6Op)

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
  return x > 6 ? 6.0L : x > 0 ? x : 0.0L;
}
long double RefDerivative(long double x, const KernelParams&) {
  return x > 0 && x < 6 ? 1.0L : 0.0L;
}

}  // namespace

const ActivationDef& Relu6Activation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "relu6",
      .kind = ActivationKind::kElementwise,
      .formula = "min(max(x, 0), 6)",
      .derivative_formula = "1 if 0 < x < 6 else 0",
      .description = "Rectifier capped at 6 (MobileNet).",
      // Exact.
      .accuracy = {.ulp_f32 = 0, .ulp_f64 = 0},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      .special_values = {{0.0, 0.0, 0},
                         {-0.0, 0.0, 0},
                         {3, 3, 1},
                         {6, 6, 0},
                         {7, 6, 0},
                         {-2, 0, 0},
                         {kInf, 6, 0},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN},
                         {1e-45, 1e-45, 1}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
