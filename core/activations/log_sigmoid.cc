// log_sigmoid: y = log(1 / (1 + exp(-x))) = min(x, 0) - log(1 + exp(-|x|)),
//              y' = 1 - sigmoid(x) = sigmoid(-x).
//
// The literal log(sigmoid(x)) gives -inf below x ~ -88 (float; sigmoid
// underflows) and 0 above x ~ 17 (sigmoid rounds to 1), where the true
// value is -exp(-x). With e = exp(-|x|) <= 1 nothing overflows:
//   y = min(x, 0) - log1p(e): for x < 0 both terms are negative (no
//   cancellation; log_sigmoid(-1000) = -1000 exactly), for x > 0 it is
//   -log1p(e) with full relative accuracy down to the subnormals;
//   y' = e / (1 + e) (x > 0), 1 / (1 + e) (x <= 0): one division.
// e comes from ExpNonPositive (one rounding into the subnormals; one
// vscalefps on AVX-512), log1p from Log1pUnit (about 1.2 ULP). All in the
// lane type.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/log_sigmoid.cc"
// clang-format off: foreach_target.h re-includes this file once per target and
// must come before everything else.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_nonpositive-inl.h"
#include "core/kernels/log1p_unit-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

struct LogSigmoidOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    const V e = ExpNonPositive(d, hn::Neg(hn::Abs(x)));
    return hn::Sub(hn::Min(x, hn::Zero(d)), Log1pUnit(d, e));
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    const V one = hn::Set(d, hn::TFromD<D>{1});
    const V e = ExpNonPositive(d, hn::Neg(hn::Abs(x)));
    const V numerator = hn::IfThenElse(hn::Gt(x, hn::Zero(d)), e, one);
    return hn::Div(numerator, hn::Add(one, e));
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // Where y' is subnormal (x > 0), 1 + e rounds to 1: g y' = g e.
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    return GTimesExpTail(d, g, hn::Neg(hn::Abs(x)), 0);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(LogSigmoidOp)

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

long double RefForward(long double x, const KernelParams&) {
  return std::fmin(x, 0.0L) - std::log1p(std::exp(-std::fabs(x)));
}
long double RefDerivative(long double x, const KernelParams&) {
  const long double e = std::exp(-std::fabs(x));
  return x > 0 ? e / (1 + e) : 1 / (1 + e);
}

}  // namespace

const ActivationDef& LogSigmoidActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "log_sigmoid",
      .kind = ActivationKind::kElementwise,
      .formula = "log(1 / (1 + exp(-x)))",
      .derivative_formula = "1 - sigmoid(x)",
      .description =
          "Logarithm of the sigmoid; smooth min(x, 0), the "
          "log-likelihood of a logistic output.",
      // Measured max over 9M points per dtype (dense [-3, 3], [-40, 40] and
      // the whole range), every target: forward 2.89, derivative 2.33,
      // backward 3.21 ULP (float32 and float64 alike).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.51, derivative
      // 2.02, backward 2.91 ULP in float32 and 2.42, 2.04, 3.02 in float64.
      .accuracy = {.ulp_f32 = 3.5, .ulp_f64 = 3.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (30 digits).
      .special_values = {{0.0, -0.69314718055994531, 0.5},
                         {-0.0, -0.69314718055994531, 0.5},
                         {kInf, 0, 0},
                         {-kInf, -kInf, 1},
                         {kNaN, kNaN, kNaN},
                         {1, -0.31326168751822283, 0.26894142136999512},
                         {-1, -1.3132616875182228, 0.73105857863000488},
                         {0.5, -0.47407698418010668, 0.37754066879814544},
                         {5, -0.0067153484891180686, 0.0066928509242848556},
                         {-5, -5.0067153484891181, 0.99330714907571514},
                         {20, -2.0611536203143807e-9, 2.0611536181902036e-9},
                         {-20, -20.000000002061154, 0.99999999793884638},
                         // The literal log(sigmoid(x)) gives 0 and -inf here.
                         {90, -8.1940126239905154e-40, 8.1940126239905154e-40},
                         {-90, -90, 1},
                         {-1000, -1000, 1},
                         {1000, 0, 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
