// tanh: y = tanh(x), y' = 1 - tanh(x)^2 = sech(x)^2.
//
// The seed's 2 e^{2x} / (e^{2x} + 1) - 1 overflows to NaN at x ~ 44 (float)
// and cancels near 0. Here, with a = |x| and the sign copied back:
//  - float forward: tanh(a) = -E / (2 + E) with E = expm1(-2a) in (-1, 0],
//    for every a (a clamped to 40, where tanh rounds to 1): the numerator
//    is accurate even where it is tiny (E = expm1(r) directly when a < 0.17)
//    and 2 + E >= 1 cancels nothing. E and 2 + E each round once (FMAs on
//    the unrounded 2^q (1 + expm1(r))); the quotient comes from a reciprocal
//    estimate with a residual correction instead of a division (targets
//    without FMA, SSE4 and older, round those products: up to 0.7 ULP
//    more). One formula and no division: half the instructions of the
//    double path below.
//  - double forward, a < 0.55: tanh(a) = a + a^3 P(a^2), a minimax-fitted
//    odd polynomial (relative fit error 2e-17); the correction term is under
//    10% of the result, so the result carries one rounding.
//  - double forward, a >= 0.55: tanh(a) = 1 - 2e / (1 + e) with
//    e = exp(-2a) <= 1/3: the subtracted term is at most 1/2, so e's error is
//    not amplified, and nothing overflows (e -> 0 gives exactly 1).
//  - derivative, both types: sech^2(a) = 4e / (1 + e)^2, with 4e from
//    ExpScaled so that it rounds once even where it is subnormal (a > 43.7
//    float, a > 354 double), and (1 + e)^2 = 1 + e (e + 2) by one fused
//    multiply-add. Near a = 0 the result is insensitive to e's error
//    ((1 - e) / (1 + e) -> 0).
// Everything is computed in the lane type; no float64 lanes are needed.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/tanh.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// The headers below are re-included once per target by foreach_target.h.
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/expm1_poly_f32-inl.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

// (tanh(a) - a) / a^3 as a polynomial in s = a^2 on [0, 0.55^2], double.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V TanhSmallPoly(D d, V s) {
  return hn::impl::Estrin(
      s, hn::Set(d, -0.33333333333332251411), hn::Set(d, 0.1333333333316168169),
      hn::Set(d, -0.053968253873171383553), hn::Set(d, 0.021869485914001531771),
      hn::Set(d, -0.0088631937720243474764),
      hn::Set(d, 0.0035917143127724924277),
      hn::Set(d, -0.0014531921660232878222),
      hn::Set(d, 0.00057906897468807165202),
      hn::Set(d, -0.00021019794533320354484),
      hn::Set(d, 0.00005095320831345608278));
}

// E = expm1(-2a) and 2 + E for float lanes, 0 <= a <= 40, each rounded
// once: e^-2a = 2^q (1 + p) with r = -2a - q ln 2 (Cody-Waite,
// |r| <= ln 2 / 2) and p = expm1(r) from Expm1PolyF32 (degree 6, relative
// error 2^-27). Then
// E = fma(2^q, p, 2^q - 1) and 2 + E = fma(2^q, p, 2^q + 1), where 2^q - 1
// and 2^q + 1 are exact (q >= -23; below, 2 + E = 1 to float precision).
// Where q = 0 (a < 0.17) E = p. a <= 40 keeps 2^q normal (q >= -116).
template <class D, class V = hn::Vec<D>>
struct Expm1MinusTwice {
  Expm1MinusTwice(D d, V a) {
    const hn::RebindToSigned<D> di;
    const V arg = hn::Mul(a, hn::Set(d, -2.0f));
    // Adding 1.5 * 2^23 rounds arg / ln 2 to the integer q, which lands in the
    // low mantissa bits.
    const V shifter = hn::Set(d, 0x1.8p23f);
    const V t = hn::MulAdd(arg, hn::Set(d, 1.44269504088896341f), shifter);
    const V q = hn::Sub(t, shifter);
    const V r = MinusQLn2(d, q, arg);
    const V p = hn::MulAdd(Expm1PolyF32(d, r), hn::Mul(r, r), r);
    // 2^q: (bits of t) << 23 is q << 23, the shifter's own bits shift out.
    const V scale = hn::BitCast(
        d,
        hn::Add(hn::ShiftLeft<23>(hn::BitCast(di, t)), hn::Set(di, 127 << 23)));
    em1 = hn::MulAdd(scale, p, hn::Sub(scale, hn::Set(d, 1.0f)));
    two_plus_em1 = hn::MulAdd(scale, p, hn::Add(scale, hn::Set(d, 1.0f)));
  }
  V em1, two_plus_em1;
};

// n / b for float lanes, b in [1, 2], without a division: the quotient from
// a reciprocal estimate, corrected by its residual n - q b (exact by FMA),
// leaves an error of the estimate's squared, about 2^-28 with AVX-512's
// 14-bit vrcp14; other targets' estimates (12 bits on SSE and AVX2) first
// take a Newton step.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V QuotientNoDiv(D d, V n, V b) {
  V r = hn::ApproximateReciprocal(b);
#if !(HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3)
  r = hn::Mul(r, hn::NegMulAdd(b, r, hn::Set(d, 2.0f)));
#endif
  const V q = hn::Mul(n, r);
  return hn::MulAdd(hn::NegMulAdd(q, b, n), r, q);
}

struct TanhOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    if constexpr (sizeof(T) == 4) {
      // tanh(a) = -E / (2 + E), E = expm1(-2a) in (-1, 0]: nothing cancels
      // (2 + E >= 1), so one formula serves every a.
      const Expm1MinusTwice<D> e(d, hn::Min(hn::Abs(x), hn::Set(d, 40.0f)));
      // CopySign drops the quotient's (negative) sign.
      return hn::CopySign(QuotientNoDiv(d, e.em1, e.two_plus_em1), x);
    } else {
      const V a = hn::Abs(x);
      const V one = hn::Set(d, T{1});
      const V s = hn::Mul(a, a);
      const V small = hn::MulAdd(hn::Mul(a, s), TanhSmallPoly(d, s), a);
      const V e = ExpScaled(d, hn::Mul(a, hn::Set(d, T{-2})), 0);
      const V large = hn::Sub(one, hn::Div(hn::Add(e, e), hn::Add(one, e)));
      const V t = hn::IfThenElse(hn::Lt(a, hn::Set(d, T(0.55))), small, large);
      return hn::CopySign(t, x);
    }
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const V a = hn::Abs(x);
    const V four_e = ExpScaled(d, hn::Mul(a, hn::Set(d, T{-2})), 2);
    const V e = hn::Mul(four_e, hn::Set(d, T(0.25)));
    const V one_plus_e_sq =
        hn::MulAdd(e, hn::Add(e, hn::Set(d, T{2})), hn::Set(d, T{1}));
    return hn::Div(four_e, one_plus_e_sq);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE
  // Where y' is subnormal, (1 + e)^2 rounds to 1: g y' = g 4 e.
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    return GTimesExpTail(d, g, hn::Mul(hn::Abs(x), hn::Set(d, -2.0)), 2);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(TanhOp)

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
  return std::tanh(x);
}
// 4 e / (1 + e)^2 with e = exp(-2|x|): no cancellation, no overflow.
long double RefDerivative(long double x, const KernelParams&) {
  const long double e = std::exp(-2 * std::fabs(x));
  return 4 * e / ((1 + e) * (1 + e));
}

}  // namespace

const ActivationDef& TanhActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "tanh",
      .kind = ActivationKind::kElementwise,
      .formula = "(exp(x) - exp(-x)) / (exp(x) + exp(-x))",
      .derivative_formula = "1 - tanh(x)^2",
      .description = "Hyperbolic tangent; squashes to (-1, 1), zero-centred.",
      // Measured max over 3M points per dtype, every target: float32
      // forward 2.5 (SSE4 and SSSE3, without FMA; 1.9 with FMA), float64
      // forward 1.5; derivative 2.4, backward 3.25 ULP for both.
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.16, derivative
      // 2.10, backward 3.15 ULP in float32 and 1.43, 2.23, 2.94 in float64.
      .accuracy = {.ulp_f32 = 3.5, .ulp_f64 = 3.5},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (30 digits).
      .special_values = {{0.0, 0.0, 1},
                         {-0.0, -0.0, 1},
                         {kInf, 1, 0},
                         {-kInf, -1, 0},
                         {kNaN, kNaN, kNaN},
                         {0.5, 0.46211715726000976, 0.78644773296592741},
                         {-0.5, -0.46211715726000976, 0.78644773296592741},
                         {1e-3, 0.0009999996666668, 0.99999900000066667},
                         {3, 0.99505475368673045, 0.0098660371654401913},
                         {-20, -0.99999999999999999, 1.6993417021166356e-17},
                         // The seed gives NaN here.
                         {50, 1, 1.4880303904083344e-43},
                         {-50, -1, 1.4880303904083344e-43},
                         {1e-30, 1e-30, 1}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
