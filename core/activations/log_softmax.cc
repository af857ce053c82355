// log_softmax along an axis: y_i = (x_i - max) - log sum_j exp(x_j - max).
//
// The shared loops of core/kernels/softmax-inl.h explain the formulation:
// lanes of the output type, x - max kept exactly inside the exponential,
// y = (x - max) - log S (both terms are <= 0, so y never cancels and the
// rounding of x - max costs at most 1/2 ULP of y), S = c + R summed in
// float64 for float, log S = log1p(R) when one element dominates,
// and 1 - p_max = R / S for the Jacobian's diagonal and the dominant
// element's backward; the backward in double lanes with G = sum(g) kept as
// hi + lo. One +inf in a slice gives the limit (y = 0 there, -inf
// elsewhere; gx = g elsewhere and minus the others' sum there); NaN, several
// +inf or only -inf give NaN; -inf entries give -inf.
// Measured against the long double reference, slices of 1 to 4097 elements
// with values up to +-1e30 and +-inf, and rows of 1 to 4097 elements with
// spreads 0.01 to 1e4, every target: f32 forward 1.5, Jacobian 1.6 ULP; f64
// forward 1.5, Jacobian 2.2 ULP. Backward, g of every magnitude from
// subnormal to 1e30: f32 0.5 ULP (rounded once from double) plus 5.8e-10
// ULP, f64 a few ULP plus 1.6 ULP (SSE4, without FMA), of the terms' scale
// sum_i |g_i J[i][j]| where g_j - p_j sum(g) cancels (2e5 slices with g
// chosen to cancel: 2.1e-9 and 2.1); declared from the error of p (8e-9
// and 4.5, see softmax-inl.h).
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/log_softmax.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/axis_kernels.h"
#include "core/kernels/softmax-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

ACTSERVE_DEFINE_SOFTMAX_KERNELS(/*kLog=*/true)

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

const ActivationDef& LogSoftmaxActivation() {
  static const ActivationDef* const def = new ActivationDef{
      .name = "log_softmax",
      .kind = ActivationKind::kAlongAxis,
      .params = {{.id = ParamId::kAxis,
                  .default_value = -1,
                  .description = "the axis each log_softmax runs along",
                  .domain = "-rank <= axis < rank"}},
      .formula = "x_i - log(sum_j exp(x_j))",
      .derivative_formula = "J[i][j] = delta_ij - softmax(x)_j",
      .description =
          "Log of softmax along an axis, computed without "
          "forming softmax.",
      .accuracy = {.ulp_f32 = 2,
                   .ulp_f64 = 3,
                   .backward_cancel_ulp_f32 = 8e-9,
                   .backward_cancel_ulp_f64 = 4.5},
      .axis_f32 = AxisKernelsF32(),
      .axis_f64 = AxisKernelsF64(),
      .axis_reference = {&softmax_reference::LogSoftmaxForward,
                         &softmax_reference::LogSoftmaxJacobian,
                         &softmax_reference::LogSoftmaxBackward},
      .test_params = {{.axis = 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
