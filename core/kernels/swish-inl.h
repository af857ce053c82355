// x sigmoid(z) and its derivative for a gate argument z computed by the
// caller, shared by silu (z = x), swish (z = beta x) and gelu_tanh
// (z = 2 sqrt(2/pi) (x + 0.044715 x^3)). Compiled once per SIMD target
// (include after hwy/foreach_target.h and core/kernels/elementwise-inl.h).
//
// With e = exp(-|z|) <= 1 nothing overflows:
//   x sigmoid(z) = x / (1 + e)                 z >= 0
//                = x e / (1 + e)               z <  0
// and with t = x dz/dx, d/dx [x sigmoid(z)] = sigmoid(z) (1 + t (1 - s(z))):
//                = (1 + e (1 + t)) / (1 + e)^2    z >= 0
//                = e (1 + t + e) / (1 + e)^2      z <  0
// e is carried scaled by 2^64 so that x e stays accurate where e alone is
// subnormal but the product is not (float x in [-104, -87]). exp amplifies
// an absolute error of z by |z|, so the caller passes z in two parts, z +
// z_low (z_low the exact rounding error of beta x, or of a compensated
// polynomial), which corrects e to first order. Each result is one division
// of the branch's numerator by the shared denominator.
//
// swish: 1 + z + e crosses zero at z0 = -1 - W(1/e) = -1.2784645...; there
// the direct sum cancels. Writing z = z0 + h, the identity e^{z0} =
// -(1 + z0) gives 1 + z + e^z = h + e^{z0} expm1(h): both terms share h's
// sign, so near the root (|h| < ln2/2) the numerator keeps full relative
// accuracy and f' is accurate even next to its root.

#if defined(ACTSERVE_CORE_KERNELS_SWISH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#undef ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#endif

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/product_error-inl.h"
#include "core/kernels/sum_error-inl.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {

// A quotient q + correction, |correction| within a few ULP of q: callers
// add the two (or fold a factor in first) with one final rounding.
template <class V>
struct SplitQuotient {
  V q, correction;
};

// (num + num_low) / (den + den_low) * scale (a power of two) as q +
// correction: q rounds once, and the residual num - q den (exact by FMA or
// ProductError) with the low parts gives the correction, so q + correction
// is within about half an ULP plus the low parts' own errors.
template <class D, class V = hn::Vec<D>>
HWY_INLINE SplitQuotient<V> DivideSplit(D d, V num, V num_low, V den, V den_low,
                                        V scale) {
  const V q = hn::Div(num, den);
  const V q_den = hn::Mul(q, den);
  V residual = hn::Sub(hn::Sub(num, q_den), ProductError(d, q, den, q_den));
  residual = hn::Add(residual, hn::NegMulAdd(q, den_low, num_low));
  V correction;
  if constexpr (sizeof(hn::TFromD<D>) == 4) {
    // 12+ bits of 1 / den are plenty for a correction of a few ULP.
    correction = hn::Mul(residual, hn::ApproximateReciprocal(den));
  } else {
    correction = hn::Div(residual, den);
  }
  return {hn::Mul(q, scale), hn::Mul(correction, scale)};
}

// e = exp(-|z + z_low|) and the quantities built from it.
template <class D, class V = hn::Vec<D>>
struct SigmoidGate {
  using T = hn::TFromD<D>;

  SigmoidGate(D d, V z, V z_low) {
    negative = hn::Lt(z, hn::Zero(d));
    const ExpSplit<D> split(d, hn::Neg(hn::Abs(z)));
    scale = split.scale;
    // exp(-|z + zl|) = e (1 + c), c = -+zl: fold c into poly.
    const V c = hn::IfThenElse(negative, z_low, hn::Neg(z_low));
    poly = hn::MulAdd(c, split.poly, hn::Add(split.poly, c));
    unscale = hn::Set(d, static_cast<T>(0x1p-64));
    one = hn::Set(d, T{1});
    // e = 2^q (1 + poly); 2^q poly is exact.
    const V power = hn::Mul(scale, unscale);
    const V power_poly = hn::Mul(power, poly);
    e = hn::Add(power, power_poly);
    e_low = FastSumError(power, power_poly, e);
    // 1 + e with one rounding (1 + 2^q is exact wherever 2^q matters), and
    // its rounding error.
    const V one_plus_power = hn::Add(one, power);
    one_plus_e = hn::Add(one_plus_power, power_poly);
    one_plus_e_low =
        hn::Add(FastSumError(one_plus_power, power_poly, one_plus_e),
                FastSumError(one, power, one_plus_power));
    // (1 + e)^2 as den + den_low, to about twice the precision.
    den = hn::Mul(one_plus_e, one_plus_e);
    den_low = hn::MulAdd(hn::Add(one_plus_e, one_plus_e), one_plus_e_low,
                         ProductError(d, one_plus_e, one_plus_e, den));
    // The z < 0 numerators carry 2^64; the quotient drops it exactly.
    result_scale = hn::IfThenElse(negative, unscale, one);
  }

  // y e 2^64 with one rounding (scale y is exact).
  V TimesE(V y) const {
    const V sy = hn::Mul(scale, y);
    return hn::MulAdd(sy, poly, sy);
  }

  // (y + y_low) e 2^64 as hi + lo: scale (y + y poly + y_low (1 + poly)).
  void TimesE(D d, V y, V y_low, V& hi, V& lo) const {
    const V sy = hn::Mul(scale, y);
    const V tail = hn::Mul(sy, poly);
    hi = hn::Add(sy, tail);
    const V sy_low = hn::Mul(scale, y_low);
    lo = hn::Add(
        hn::Add(FastSumError(sy, tail, hi), ProductError(d, sy, poly, tail)),
        hn::MulAdd(sy_low, poly, sy_low));
  }

  // x sigmoid(z + z_low); x = -inf gives the limit 0.
  V XSigmoid(V x) const {
    const V numerator = hn::IfThenElse(negative, TimesE(x), x);
    const V y = hn::Mul(hn::Div(numerator, one_plus_e), result_scale);
    return hn::IfThenZeroElse(hn::And(negative, hn::IsInf(x)), y);
  }

  // d/dx [x sigmoid(z)] for t = x dz/dx: (1 + e (1 + t)) / (1 + e)^2 for
  // z >= 0, e (sum + sum_low) / (1 + e)^2 for z < 0, where sum + sum_low is
  // the caller's 1 + t + e (or an equivalent form that does not cancel).
  // Infinite t gives the limits 1 (z = inf) and 0 (z = -inf). Numerator,
  // denominator and quotient are carried to about twice the precision, so the
  // result rounds about once.
  SplitQuotient<V> Derivative(D d, V t, V sum, V sum_low) const {
    // e (1 + t) is negligible long before t could overflow it.
    const V t_capped = hn::Min(t, hn::Set(d, T{1000}));
    const V positive = hn::MulAdd(e, hn::Add(one, t_capped), one);
    V scaled, scaled_low;
    TimesE(d, sum, sum_low, scaled, scaled_low);
    const V numerator = hn::IfThenElse(negative, scaled, positive);
    const V numerator_low = hn::IfThenElseZero(negative, scaled_low);
    SplitQuotient<V> y =
        DivideSplit(d, numerator, numerator_low, den, den_low, result_scale);
    // Infinite t: the limits, not inf * 0.
    const auto limit = hn::And(negative, hn::IsInf(t));
    return {hn::IfThenZeroElse(limit, y.q),
            hn::IfThenZeroElse(limit, y.correction)};
  }

  V scale, poly, unscale, one, e, e_low, one_plus_e, one_plus_e_low, den,
      den_low, result_scale;
  hn::Mask<D> negative;
};

// g (q + correction) with one main rounding.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V TimesSplitQuotient(D d, V g, const SplitQuotient<V>& s) {
  const V gq = hn::Mul(g, s.q);
  return hn::Add(gq, hn::MulAdd(g, s.correction, ProductError(d, g, s.q, gq)));
}

// Derivative and Backward for an Op with
//   SplitQuotient<V> SplitDerivative(D d, V x, const VecParams<D>& p) const;
// backward folds g in before the final rounding.
#define ACTSERVE_DERIVATIVE_FROM_SPLIT                         \
  template <class D, class V = hn::Vec<D>>                     \
  V Derivative(D d, V x, const VecParams<D>& p) const {        \
    const SplitQuotient<V> y = SplitDerivative(d, x, p);       \
    return hn::Add(y.q, y.correction);                         \
  }                                                            \
  template <class D, class V = hn::Vec<D>>                     \
  V Backward(D d, V x, V g, const VecParams<D>& p) const {     \
    return TimesSplitQuotient(d, g, SplitDerivative(d, x, p)); \
  }

// The rounding error of z = beta x, 0 where z is infinite. Without FMA,
// Dekker's splitting overflows for huge factors; there it is kept to |z| <
// 1024 (beyond which e = 0) and factors below 2^100 (float) / 2^900.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V BetaXLow(D d, V beta, V x, V z) {
#if HWY_NATIVE_FMA
  (void)d;
  return hn::IfThenElseZero(hn::IsFinite(z), hn::MulSub(beta, x, z));
#else
  using T = hn::TFromD<D>;
  const V factor_limit =
      hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 0x1p100 : 0x1p900));
  const auto safe = hn::And(hn::Lt(hn::Abs(z), hn::Set(d, T{1024})),
                            hn::And(hn::Lt(hn::Abs(x), factor_limit),
                                    hn::Lt(hn::Abs(beta), factor_limit)));
  return hn::IfThenElseZero(safe, ProductError(d, beta, x, z));
#endif
}

// kUnitBeta: silu, beta = 1 whatever the parameters say.
template <bool kUnitBeta>
struct SwishOp {
  // The float32 parameter-gradient terms are computed in float32 (see
  // BackwardParamGradLoop).
  static constexpr bool kParamPartialInLaneType = true;

  template <class D, class V = hn::Vec<D>>
  struct Parts {
    Parts(D d, V x, const VecParams<D>& p)
        : z(kUnitBeta ? x : hn::Mul(p.beta, x)),
          z_low(kUnitBeta ? hn::Zero(d) : BetaXLow(d, p.beta, x, z)),
          gate(d, z, z_low) {}
    V z, z_low;
    SigmoidGate<D> gate;
  };

  ACTSERVE_NEVER_WIDE

  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>& p) const {
    return Parts<D>(d, x, p).gate.XSigmoid(x);
  }

  ACTSERVE_DERIVATIVE_FROM_SPLIT

  // f' as q + correction (see SigmoidGate::Derivative).
  template <class D, class V = hn::Vec<D>>
  SplitQuotient<V> SplitDerivative(D d, V x, const VecParams<D>& p) const {
    using T = hn::TFromD<D>;
    const Parts<D> s(d, x, p);
    // z < 0, away from the root: (1 + z + zl) + e; its rounding (at most
    // half an ULP of the sum) is left in.
    const V direct =
        hn::Add(hn::Add(hn::Add(s.gate.one, s.z), s.z_low), s.gate.e);
    // Near the root: h + e^{z0} expm1(h), h = z - z0 exactly (z0 = hi + lo,
    // z - hi is exact by Sterbenz for z in [2 hi, hi / 2]).
    const V z0_hi =
        hn::Set(d, static_cast<T>(sizeof(T) == 4 ? -1.2784645557403564
                                                 : -1.2784645427610737));
    const V z0_lo =
        hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 1.2979282650203141261e-8
                                                 : -1.094699418309343743e-16));
    const V h = hn::Add(hn::Sub(s.z, z0_hi), hn::Sub(s.z_low, z0_lo));
    hn::impl::ExpImpl<T> exp_impl;
    const V near = hn::MulAdd(
        hn::Set(d, static_cast<T>(0.278464542761073795109358739022980155)),
        exp_impl.ExpPoly(d, h), h);
    const auto use_near = hn::Lt(hn::Abs(h), hn::Set(d, static_cast<T>(0.34)));
    return s.gate.Derivative(d, s.z, hn::IfThenElse(use_near, near, direct),
                             hn::Zero(d));
  }

  // df/dbeta = x^2 e / (1 + e)^2. In float32 lanes x e 2^64 overflows for
  // |x| > 2^64; BackwardParamGradLoop recomputes such lanes in float64.
  template <class D, class V = hn::Vec<D>>
  V ParamPartial(D d, V x, const VecParams<D>& p) const {
    using T = hn::TFromD<D>;
    const Parts<D> s(d, x, p);
    const SigmoidGate<D>& g = s.gate;
    const V den = hn::MulAdd(g.e, hn::Add(g.e, hn::Set(d, T{2})), g.one);
    const V xe = hn::Div(g.TimesE(x), den);
    return hn::IfThenZeroElse(hn::IsInf(x), hn::Mul(hn::Mul(x, xe), g.unscale));
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_SWISH_INL_H_
