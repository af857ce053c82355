// softplus: y = log(1 + exp(beta x)) / beta, or x where beta x > threshold
// (PyTorch's convention); y' = sigmoid(beta x), or 1 above the threshold.
//
// The seed's log(1 + exp(x)) overflows to inf at x ~ 89 (float) and loses
// everything below x ~ -17 (1 + e rounds to 1). With z = beta x and
// e = exp(-|beta x|) <= 1:
//   beta y = max(z, 0) + log1p(e),   y' = 1 / (1 + e) (x >= 0), e / (1 + e)
// so nothing overflows, and for x < 0 the result keeps full relative
// accuracy down to the subnormals (log1p(e) = e there). e comes from
// ExpNonPositive (one vscalefps on AVX-512), log1p from Log1pUnit (about
// 1.2 ULP). The default beta = 1 has its own loop: z = x is exact. Otherwise
// |beta x| is rounded, which exp would amplify by |beta x| in the far
// negative tail; the exact rounding error of the product (one fused
// multiply-subtract, ProductError without FMA) goes into exp's reduced
// argument: exp(-(|z| + zl)) to first order. Then y = max(x, 0) +
// log1p(e) / beta, the quotient from Log1pUnitOver (the division by beta
// folded into log1p's own, no extra rounding) up to beta = 2^64, and a
// division by beta above. For beta < 1, e / beta can be normal where e is
// subnormal, so in the tail (e < 2^-60, log1p(e) = e) it is formed from e's
// normal mantissa and scaled after the division. All in the lane type.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/softplus.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// The headers below are re-included once per target by foreach_target.h.
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_nonpositive-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/log1p_unit-inl.h"
#include "core/kernels/product_error-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

// |z| = fl(beta |x|) (beta > 0), its rounding error |z|l and
// e = exp(-|beta x|); with beta = 1 (kUnitBeta) |z| = |x| is exact.
template <bool kUnitBeta, class D, class V = hn::Vec<D>>
struct SoftplusParts;

template <class D, class V>
struct SoftplusParts<true, D, V> {
  SoftplusParts(D d, V x, const VecParams<D>& p)
      : abs_z(hn::Abs(x)),
        e(ExpNonPositive(d, hn::Neg(abs_z))),
        positive(hn::Gt(x, hn::Zero(d))),
        linear(hn::And(positive, hn::Gt(abs_z, p.threshold))) {}
  V abs_z, e;
  hn::Mask<D> positive, linear;  // z > 0, z > threshold
};

template <class D, class V>
struct SoftplusParts<false, D, V> {
  SoftplusParts(D d, V x, const VecParams<D>& p)
      : abs_z(hn::Mul(p.beta, hn::Abs(x))),
        abs_z_low(LowPart(d, hn::Abs(x), p.beta, abs_z)),
        split(d, hn::Neg(abs_z), hn::Neg(abs_z_low)),
        e(split.Value(d)),
        positive(hn::Gt(x, hn::Zero(d))),
        linear(hn::And(positive, hn::Gt(abs_z, p.threshold))) {}
  static V LowPart(D d, V ax, V beta, V abs_z) {
    const V low = ProductError(d, beta, ax, abs_z);
#if HWY_NATIVE_FMA
    return low;
#else
    // Veltkamp's split overflows for |x| above ~1e34 (float), where the
    // error is irrelevant; NaN would reach the result if threshold > |z|.
    return hn::IfThenElseZero(hn::IsFinite(low), low);
#endif
  }
  V abs_z, abs_z_low;
  ExpNonPositiveSplit<D> split;
  V e;
  hn::Mask<D> positive, linear;  // z > 0, z > threshold
};

// kOne: beta = 1. kModerate: beta <= 2^64, where Log1pUnitOver's
// 2 beta + beta e cannot overflow. kHuge: larger betas (float32 comes near
// overflow); only the forward differs from kModerate.
enum class BetaKind { kOne, kModerate, kHuge };

template <BetaKind kBeta>
struct SoftplusOp {
  static constexpr bool kUnitBeta = kBeta == BetaKind::kOne;
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>& p) const {
    const SoftplusParts<kUnitBeta, D> s(d, x, p);
    if constexpr (kUnitBeta) {
      const V l = Log1pUnit(d, s.e);
      return hn::IfThenElse(s.linear, x,
                            hn::IfThenElse(s.positive, hn::Add(s.abs_z, l), l));
    } else {
      // y = max(x, 0) + log1p(e) / beta (beta z = x exactly).
      const V l_over_beta = kBeta == BetaKind::kModerate
                                ? Log1pUnitOver(d, s.e, p.beta)
                                : hn::Div(Log1pUnit(d, s.e), p.beta);
      V y = hn::IfThenElse(s.positive, hn::Add(x, l_over_beta), l_over_beta);
      // Where e < 2^-60, log1p(e) = e to the last bit, and e / beta is
      // formed from e's normal mantissa: e itself may be subnormal while
      // e / beta (beta < 1) is not. Rare lanes (z < -41), so a branch.
      const auto tiny = hn::AndNot(
          s.positive,
          hn::Lt(s.e, hn::Set(d, static_cast<hn::TFromD<D>>(0x1p-60))));
      if (HWY_UNLIKELY(!hn::AllFalse(d, tiny))) {
        y = hn::IfThenElse(
            tiny, s.split.Scale(d, hn::Div(s.split.mant(), p.beta)), y);
      }
      return hn::IfThenElse(s.linear, x, y);
    }
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    const SoftplusParts<kUnitBeta, D> s(d, x, p);
    const V one = hn::Set(d, hn::TFromD<D>{1});
    const V sig =
        hn::Div(hn::IfThenElse(s.positive, one, s.e), hn::Add(one, s.e));
    return hn::IfThenElse(s.linear, one, sig);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // Where y' is subnormal (x < 0), 1 + e rounds to 1: g y' = g e, with
  // exp(-|z|)'s 2^q folded into g and |z|'s rounding error into exp.
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>& p) const {
    const SoftplusParts<kUnitBeta, D> s(d, x, p);
    if constexpr (kUnitBeta) {
      return GTimesExpTail(d, g, hn::Neg(s.abs_z), 0);
    } else {
      return GTimesExpTail(d, g, hn::Neg(s.abs_z), 0, hn::Neg(s.abs_z_low));
    }
  }
};

// The default beta = 1 needs neither the rounding error of beta x nor the
// division by beta: a loop of its own.
template <EvalKind kKind, typename T>
void SoftplusLoop(const T* x, const T* g, T* y, size_t n,
                  const KernelParams& p) {
  if (p.beta == 1) {
    ElementwiseLoop<kKind, SoftplusOp<BetaKind::kOne>>(x, g, y, n, p);
  } else if (kKind != EvalKind::kForward ||
             static_cast<T>(p.beta) <= static_cast<T>(0x1p64)) {
    ElementwiseLoop<kKind, SoftplusOp<BetaKind::kModerate>>(x, g, y, n, p);
  } else {
    ElementwiseLoop<kKind, SoftplusOp<BetaKind::kHuge>>(x, g, y, n, p);
  }
}
ACTSERVE_DEFINE_ELEMENTWISE_KERNELS_FROM_LOOP(SoftplusLoop)

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
      // Measured max over 5M points per dtype and parameter set (defaults,
      // beta 2 threshold 10, beta 0.5; dense [-3, 3], [-40, 40], [-110, 110],
      // [-1e4, 1e4] and the whole range), every target: forward 2.74,
      // derivative 2.35, backward 3.26 ULP; forward 2.78 at beta 0.3, 1.5,
      // 3, 1e-3, 1e19, 1e30. A beta not representable in float32 (0.3) adds
      // the error of float(beta) to float32 results against the double-beta
      // reference, amplified by |beta x| in the tail; below beta ~ 2^-23,
      // float32 results for beta x < -120 are 0 although exp(beta x) / beta
      // is not; and without FMA, beta above ~1e34 (float32) gets no
      // correction for the rounding of beta x (ProductError overflows).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.49, derivative
      // 2.12, backward 3.00 ULP in float32 and 2.62, 2.14, 2.95 in float64.
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
