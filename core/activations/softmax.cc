// softmax along an axis: y_i = exp(x_i - max) / sum_j exp(x_j - max).
//
// The shared loops of core/kernels/softmax-inl.h explain the formulation:
// lanes of the output type, x - max kept exactly, e = exp(x - max) stored
// once and scaled by 1 / S (S = c + R summed in float64 for float, blocks of
// four vectors first in float), and
// 1 - y_max = R / S for the derivative's diagonal and the backward of the
// dominant element; the backward in double lanes with D = sum(g y) kept as
// hi + lo. One +inf in a slice gives the limit (y = 1 there, 0 elsewhere;
// Jacobian and backward 0); NaN, several +inf or only -inf give NaN.
// Measured against the long double reference, slices of 1 to 4097 elements
// with values up to +-1e30 and +-inf, and rows of 1 to 4097 elements with
// spreads 0.01 to 1e4, every target: f32 forward 3.5 (SSE4 and SSSE3,
// without FMA; 2.8 with FMA), Jacobian 2.8 ULP; f64 forward 2.9, Jacobian
// 5.1 ULP. Backward, g of every magnitude from subnormal to 1e30: f32 0.5
// ULP (rounded once from double) plus 1.3e-9 ULP, f64 a few ULP plus 1.4
// ULP, of the terms' scale sum_i |g_i J[i][j]| where g_j - sum(g y)
// cancels (2e5 slices with g chosen to cancel: 2.9e-9 and 1.4); declared
// from the error of p (8e-9 and 4.5, see softmax-inl.h).
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/softmax.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/axis_kernels.h"
#include "core/kernels/softmax-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

ACTSERVE_DEFINE_SOFTMAX_KERNELS(/*kLog=*/false)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels/softmax_reference.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_AXIS_KERNELS()

}  // namespace

const ActivationDef& SoftmaxActivation() {
  static const ActivationDef* const def = new ActivationDef{
      .name = "softmax",
      .kind = ActivationKind::kAlongAxis,
      .params = {{.id = ParamId::kAxis,
                  .default_value = -1,
                  .description = "the axis each softmax runs along",
                  .domain = "-rank <= axis < rank"}},
      .formula = "exp(x_i) / sum_j exp(x_j)",
      .derivative_formula = "J[i][j] = y_i (delta_ij - y_j)",
      .description =
          "Normalized exponentials along an axis: a probability "
          "distribution per slice.",
      .accuracy = {.ulp_f32 = 4,
                   .ulp_f64 = 6,
                   .backward_cancel_ulp_f32 = 8e-9,
                   .backward_cancel_ulp_f64 = 4.5},
      .axis_f32 = AxisKernelsF32(),
      .axis_f64 = AxisKernelsF64(),
      .axis_reference = {&softmax_reference::SoftmaxForward,
                         &softmax_reference::SoftmaxJacobian,
                         &softmax_reference::SoftmaxBackward},
      .test_params = {{.axis = 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
