// hardtanh: y = min(max(x, min), max), with min < max (default -1, 1).
//
// Compares and selects only: exact, at memory speed. Clamping by compares
// (not Min/Max) keeps -0 as -0 on every target. The derivative is 1 on the
// open interval (min, max) and 0 elsewhere, both kinks included, as
// PyTorch's hardtanh_backward.
// Measured: 0 ULP (f32 and f64, every mode and test parameters).
// clang-format off: foreach_target.h must come before the -inl.h headers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/hardtanh.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on

#include "core/kernels/elementwise-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct HardtanhOp {
  ACTSERVE_PIECEWISE_LINEAR
  template <class D, class V = hn::Vec<D>>
  V Forward(D, V x, const VecParams<D>& p) const {
    return hn::IfThenElse(hn::Lt(x, p.min), p.min,
                          hn::IfThenElse(hn::Gt(x, p.max), p.max, x));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    return hn::IfThenElseZero(Inside(x, p), hn::Set(d, 1));
  }
  template <class D, class V = hn::Vec<D>>
  V Backward(D, V x, V g, const VecParams<D>& p) const {
    return hn::IfThenElseZero(Inside(x, p), g);
  }
  template <class D, class V = hn::Vec<D>>
  static hn::Mask<D> Inside(V x, const VecParams<D>& p) {
    return hn::And(hn::Gt(x, p.min), hn::Lt(x, p.max));
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(HardtanhOp)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "absl/strings/str_cat.h"
#include "core/kernels/elementwise_export.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(nullptr, nullptr)

long double RefForward(long double x, const KernelParams& p) {
  return x < p.min ? p.min : x > p.max ? p.max : x;
}
long double RefDerivative(long double x, const KernelParams& p) {
  return x > p.min && x < p.max ? 1.0L : 0.0L;
}

absl::Status Validate(const KernelParams& p) {
  if (p.min < p.max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("activation.min: ", p.min, " must be below activation.max (",
                   p.max, ")"));
}

}  // namespace

const ActivationDef& HardtanhActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "hardtanh",
      .kind = ActivationKind::kElementwise,
      .params = {{.id = ParamId::kMin,
                  .default_value = -1,
                  .description = "lower clamp; below max",
                  .domain = "finite, < max"},
                 {.id = ParamId::kMax,
                  .default_value = 1,
                  .description = "upper clamp; above min",
                  .domain = "finite, > min"}},
      .formula = "min(max(x, min), max)",
      .derivative_formula = "1 if min < x < max else 0",
      .description = "Linear between min and max, clamped outside.",
      // Exact.
      .accuracy = {.ulp_f32 = 0, .ulp_f64 = 0},
      .validate = &Validate,
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      .special_values = {{0.0, 0.0, 1},
                         {-0.0, -0.0, 1},
                         {0.5, 0.5, 1},
                         {-1, -1, 0},
                         {1, 1, 0},
                         {-7, -1, 0},
                         {kInf, 1, 0},
                         {-kInf, -1, 0},
                         {kNaN, kNaN, kNaN},
                         {1e-45, 1e-45, 1}},
      .test_params = {{.min = -2, .max = 3}, {.min = 0, .max = 6}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
