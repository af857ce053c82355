// identity: y = x. The transport baseline of the service.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/identity.cc"
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

struct IdentityOp {
  ACTSERVE_PIECEWISE_LINEAR
  template <class D, class V = hn::Vec<D>>
  V Forward(D, V x, const VecParams<D>&) const {
    return x;
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V, const VecParams<D>&) const {
    return hn::Set(d, 1);
  }
  template <class D, class V = hn::Vec<D>>
  V Backward(D, V, V g, const VecParams<D>&) const {
    return g;
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(IdentityOp)

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

long double RefForward(long double x, const KernelParams&) { return x; }
long double RefDerivative(long double, const KernelParams&) { return 1; }

}  // namespace

const ActivationDef& IdentityActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "identity",
      .kind = ActivationKind::kElementwise,
      .formula = "x",
      .derivative_formula = "1",
      .description = "Returns its input; the transport baseline.",
      // Exact.
      .accuracy = {.ulp_f32 = 0, .ulp_f64 = 0},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      .special_values = {{0.0, 0.0, 1},
                         {-0.0, -0.0, 1},
                         {kInf, kInf, 1},
                         {-kInf, -kInf, 1},
                         {kNaN, kNaN, kNaN},
                         {1e-40, 1e-40, 1}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
