// relu: y = max(x, 0); the x <= 0 branch holds at 0, so relu'(0) = 0.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/relu.cc"
// clang-format off: foreach_target.h re-includes this file once per target and
// must come before everything else.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "core/kernels/elementwise-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct ReluOp {
  ACTSERVE_PIECEWISE_LINEAR
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    // Not Max(x, 0): that would turn -0 into +0 on some targets only.
    return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), x);
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), hn::Set(d, 1));
  }
  template <class D, class V = hn::Vec<D>>
  V Backward(D d, V x, V g, const VecParams<D>&) const {
    return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), g);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(ReluOp)

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
  return x > 0 ? x : 0.0L;
}
long double RefDerivative(long double x, const KernelParams&) {
  return x > 0 ? 1.0L : 0.0L;
}

}  // namespace

const ActivationDef& ReluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "relu",
      .kind = ActivationKind::kElementwise,
      .formula = "x if x > 0 else 0",
      .derivative_formula = "1 if x > 0 else 0",
      .description = "Rectified linear unit.",
      // Exact.
      .accuracy = {.ulp_f32 = 0, .ulp_f64 = 0},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      .special_values = {{0.0, 0.0, 0},
                         {-0.0, 0.0, 0},
                         {kInf, kInf, 1},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN},
                         {1e-45, 1e-45, 1},
                         {-3e38, 0, 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
