// softplus: y = log(1 + exp(beta x)) / beta, or x where beta x > threshold
// (PyTorch's convention); y' = sigmoid(beta x), or 1 above the threshold.
//
// The seed's log(1 + exp(x)) overflows to inf at x ~ 89 (float) and loses
// everything below x ~ -17 (1 + e rounds to 1). With z = beta x and
// e = exp(-|beta x|) <= 1:
//   beta y = max(z, 0) + log1p(e),   y' = 1 / (1 + e) (x >= 0), e / (1 + e)
// so nothing overflows, and for x < 0 the result keeps full relative
// accuracy down to the subnormals (log1p(e) = e there). log1p is
// Log1pUnit (about 1.2 ULP). beta x is rounded, which exp would amplify by
// |beta x| in the far negative tail; the exact rounding error of the product
// (one fused multiply-subtract) corrects e to first order:
// exp(z + zl) = e (1 + zl). Dividing by beta (not multiplying by 1/beta)
// keeps the final step to one rounding. All in the lane type.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/softplus.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// The headers below are re-included once per target by foreach_target.h.
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/log1p_unit-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

// z = fl(beta x), its rounding error zl, and e = exp(-|beta x|).
template <class D, class V = hn::Vec<D>>
struct SoftplusParts {
  SoftplusParts(D d, V x, const VecParams<D>& p) {
    z = hn::Mul(p.beta, x);
    // beta x - z exactly; 0 where z is infinite (the formula would give NaN).
    const V zl = hn::IfThenElseZero(hn::IsFinite(z), hn::MulSub(p.beta, x, z));
    positive = hn::Gt(z, hn::Zero(d));
    const V e0 = ExpScaled(d, hn::Neg(hn::Abs(z)), 0);
    // exp(-|z + zl|) = e0 (1 -+ zl).
    e = hn::MulAdd(e0, hn::IfThenElse(positive, hn::Neg(zl), zl), e0);
    z_low = zl;
  }
  V z, z_low, e;
  hn::Mask<D> positive;
};

struct SoftplusOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>& p) const {
    const SoftplusParts<D> s(d, x, p);
    const V l = Log1pUnit(d, s.e);
    const V scaled =
        hn::IfThenElse(s.positive, hn::Add(s.z, hn::Add(s.z_low, l)), l);
    return hn::IfThenElse(hn::Gt(s.z, p.threshold), x, hn::Div(scaled, p.beta));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    const SoftplusParts<D> s(d, x, p);
    const V one = hn::Set(d, hn::TFromD<D>{1});
    const V sig =
        hn::Div(hn::IfThenElse(s.positive, one, s.e), hn::Add(one, s.e));
    return hn::IfThenElse(hn::Gt(s.z, p.threshold), one, sig);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(SoftplusOp)

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
  const long double z = p.beta * x;
  if (z > p.threshold) return x;
  return (std::fmax(z, 0.0L) + std::log1p(std::exp(-std::fabs(z)))) / p.beta;
}
long double RefDerivative(long double x, const KernelParams& p) {
  const long double z = p.beta * x;
  if (z > p.threshold) return 1;
  const long double e = std::exp(-std::fabs(z));
  return z > 0 ? 1 / (1 + e) : e / (1 + e);
}

}  // namespace

const ActivationDef& SoftplusActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "softplus",
      .kind = ActivationKind::kElementwise,
      .params = {{.id = ParamId::kBeta,
                  .default_value = 1,
                  .description = "Sharpness: softplus(x) -> relu(x) as beta "
                                 "grows.",
                  .lower = 0,
                  .lower_inclusive = false,
                  .domain = "> 0, finite"},
                 {.id = ParamId::kThreshold,
                  .default_value = 20,
                  .description = "Above beta * x > threshold the result is x "
                                 "(PyTorch's linear region).",
                  .lower = 0,
                  .lower_inclusive = false,
                  .domain = "> 0, finite"}},
      .formula = "log(1 + exp(beta * x)) / beta, or x if beta * x > threshold",
      .derivative_formula = "sigmoid(beta * x), or 1 if beta * x > threshold",
      .description = "Smooth approximation of relu.",
      // Measured max over 4.5M points per dtype and parameter set (defaults,
      // beta 2 threshold 10, beta 0.5), every target: forward 2.75,
      // derivative 2.45, backward 3.26 ULP. A beta not representable in
      // float32 (0.3) adds the error of float(beta) to float32 results
      // (forward 4.3 ULP at beta = 0.3 against the double-beta reference).
      .accuracy = {.ulp_f32 = 3.5, .ulp_f64 = 3.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (40 digits), beta = 1, threshold = 20.
      .special_values = {{0.0, 0.69314718055994531, 0.5},
                         {-0.0, 0.69314718055994531, 0.5},
                         {kInf, kInf, 1},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN},
                         {1, 1.3132616875182228, 0.73105857863000488},
                         {-1, 0.31326168751822283, 0.26894142136999512},
                         {5, 5.0067153484891181, 0.99330714907571514},
                         {-20, 2.0611536203143807e-9, 2.0611536181902036e-9},
                         {20, 20.000000002061154, 0.99999999793884638},
                         {20.5, 20.5, 1},
                         {-90, 8.1940126239905154e-40, 8.1940126239905154e-40},
                         {-100, 3.720075976020836e-44, 3.720075976020836e-44},
                         // The seed gives inf here.
                         {1000, 1000, 1},
                         {-1000, 0, 0}},
      .test_params = {{.beta = 2, .threshold = 10}, {.beta = 0.5}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
