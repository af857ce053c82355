// prelu: y = x for x > 0, alpha * x otherwise, with alpha learnable
// (He et al. 2015). One scalar alpha, or one per channel along `axis`
// (channel_alpha; PyTorch nn.PReLU's layout, channels on axis 1): the
// evaluator splits per-channel tensors into runs of one slope and sums the
// alpha gradients per channel, so these kernels only ever see a scalar.
//
// Selects and one multiply in the input type, as leaky_relu: bound 1.5 ULP
// in f32 (alpha rounded to float), 0.5 ULP in f64, at memory speed.
// Measured over the whole finite range, every mode and test alpha (rounded
// to float as the kernels see it): 0.5 ULP; the bound also covers alpha
// rounded to float against the alpha given.
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/prelu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/leaky_slope-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

// leaky_relu's Op plus the gradient of the learnable alpha.
struct PreluOp : LeakySlopeOp {
  // df/dalpha = x on the x <= 0 branch. Written as "zero where x > 0" so a
  // NaN input makes the alpha gradient NaN too.
  template <class D, class V = hn::Vec<D>>
  V ParamPartial(D d, V x, const VecParams<D>&) const {
    return hn::IfThenZeroElse(hn::Gt(x, hn::Zero(d)), x);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(PreluOp)
ACTSERVE_DEFINE_BACKWARD_PARAM_GRAD_KERNELS(PreluOp)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels/elementwise_export.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_BACKWARD_PARAM_GRAD_KERNELS()
ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(&DispatchBackwardParamGradF32,
                                    &DispatchBackwardParamGradF64)

long double RefForward(long double x, const KernelParams& p) {
  if (x > 0) return x;
  return p.alpha == 0 ? 0.0L : p.alpha * x;
}
long double RefDerivative(long double x, const KernelParams& p) {
  return x > 0 ? 1.0L : static_cast<long double>(p.alpha);
}
long double RefAlphaDerivative(long double x, const KernelParams&) {
  return x > 0 ? 0.0L : x;
}

}  // namespace

const ActivationDef& PreluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "prelu",
      .kind = ActivationKind::kElementwise,
      .params =
          {{.id = ParamId::kAlpha,
            .default_value = 0.25,
            .description = "slope for x <= 0 (PyTorch's init value), learned",
            .domain = "finite",
            .learnable = true},
           {.id = ParamId::kAxis,
            .default_value = 1,
            .description = "the channel axis that channel_alpha runs along",
            .domain = "-rank <= axis < rank"},
           {.id = ParamId::kChannelAlpha,
            .default_value = 0,
            .description = "one finite slope per channel along axis, "
                           "replacing alpha; its gradient has one sum per "
                           "channel",
            .domain = "finite, length = size of axis"}},
      .formula = "x if x > 0 else alpha * x",
      .derivative_formula =
          "1 if x > 0 else alpha; d/dalpha: 0 if x > 0 "
          "else x",
      .description =
          "Rectifier with a learned slope for negative inputs, "
          "scalar or per channel.",
      .accuracy = {.ulp_f32 = 1.5, .ulp_f64 = 0.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, &RefAlphaDerivative},
      // Expected values by hand: 0.25 * x is exact.
      .special_values = {{0.0, 0.0, 0.25},
                         {-0.0, -0.0, 0.25},
                         {kInf, kInf, 1},
                         {-kInf, -kInf, 0.25},
                         {kNaN, kNaN, kNaN},
                         {-100, -25, 0.25},
                         {3, 3, 1},
                         {-3e38, -7.5e37, 0.25}},
      .test_params = {{.alpha = -0.5},
                      {.alpha = 0},
                      {.alpha = 1.75},
                      {.alpha = 0.3}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
