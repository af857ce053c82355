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
//
// silu and swish take that float64 path (SigmoidGate with double-float
// numerators and quotients) for float64 arrays and for the forward; their
// float32 derivative, backward and dL/dbeta go through float64 lanes with
// float32-grade approximations instead (SwishSlopesFloat32Grade below).

#if defined(ACTSERVE_CORE_KERNELS_SWISH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#undef ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#endif

#include <limits>

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/float64_halves-inl.h"
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
  const V correction = hn::Div(residual, den);
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

// ---- float32 lanes: f' and sigma'(z) in float64 ----
//
// For float32 inputs z = beta x is exact in float64 (two 24-bit factors), so
// no rounding error of z needs carrying, and every float64 rounding is 2^-53:
// float32-grade approximations (expm1 to 2^-26..2^-32, 1 / (1 + e) to
// 2^-28) leave f' within about 2^-26 before the one final rounding to
// float32, without the double-float compensation of the path above; g f'
// and the dL/dbeta terms x^2 sigma'(z) come from the same float64 values.

// expm1(r) for |r| <= 0.347 to a relative 2^-32 (degree 7) or 2^-26
// (degree 6), fitted to the relative error.
template <int kDegree, class DW, class VW = hn::Vec<DW>>
HWY_INLINE VW Expm1Float32Grade(DW dw, VW r) {
  static_assert(kDegree == 6 || kDegree == 7, "fitted degrees");
  // Estrin's scheme: a shorter dependency chain than Horner's.
  const VW r2 = hn::Mul(r, r);
  VW q;
  if constexpr (kDegree == 7) {
    const VW c23 = hn::MulAdd(hn::Set(dw, 0.16666666369938052), r,
                              hn::Set(dw, 0.50000000442359995));
    const VW c45 = hn::MulAdd(hn::Set(dw, 0.0083333894368275891), r,
                              hn::Set(dw, 0.041666360582678250));
    const VW c67 = hn::MulAdd(hn::Set(dw, 0.00019845877149762744), r,
                              hn::Set(dw, 0.0013940655194943549));
    q = hn::MulAdd(hn::MulAdd(c67, r2, c45), r2, c23);
  } else {
    const VW c23 = hn::MulAdd(hn::Set(dw, 0.16666543488398238), r,
                              hn::Set(dw, 0.49999998151041524));
    const VW c45 = hn::MulAdd(hn::Set(dw, 0.0083665383826333980), r,
                              hn::Set(dw, 0.041667200458481825));
    q = hn::MulAdd(hn::MulAdd(hn::Set(dw, 0.0013882515567562322), r2, c45), r2,
                   c23);
  }
  return hn::MulAdd(r2, q, r);
}

// 1 / v to about 2^-28 for v in [1, 2]: vrcp14pd and one Newton step where
// AVX-512 has it (a division costs several times more), else a division.
template <class DW, class VW = hn::Vec<DW>>
HWY_INLINE VW ReciprocalFloat32Grade(DW dw, VW v) {
  const VW one = hn::Set(dw, 1.0);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  const VW r{_mm512_rcp14_pd(v.raw)};
  return hn::MulAdd(r, hn::NegMulAdd(v, r, one), r);
#else
  return hn::Div(one, v);
#endif
}

// d/dx [x sigmoid(z)] and sigma'(z) = e q^2, e = exp(-|z|), q = 1 / (1 + e),
// for an exact z = beta x. a = -|z| is clamped to -708: exp(-708) is still a
// normal double and e (1 + |z|) far below float32's range, so infinite z
// gives the limits 1 and 0. e = 2^k (1 + expm1(r)).
//  - kRootForm = false: f' = (1 + e (1 + |z|)) q^2 for z >= 0 and
//    e (1 + z + e) q^2 for z < 0, the numerators as one FMA. Next to the
//    root z0 of 1 + z + e the sum cancels and amplifies e's error; an expm1
//    to 2^-32 keeps f' within 2^-29 outside silu's root window
//    (|z - z0| >= 0.05) and well within its absolute bound inside it, but
//    that is not enough for other beta.
//  - kRootForm = true: for |z - z0| < 0.34 the argument is reduced around
//    z0 instead: e = e^{z0} (1 + expm1(h)), h = z - z0, and f' = (h +
//    e^{z0} expm1(h)) sigma' keeps its relative accuracy down to the root
//    (see the top of this file). Elsewhere f' = q + |z| sigma' (z >= 0) or
//    e q + z sigma' (z < 0), which cancel at most 5x there. One polynomial
//    (2^-26) serves both reductions.
template <class DW, bool kRootForm, class VW = hn::Vec<DW>>
struct SwishSlopesFloat32Grade {
  SwishSlopesFloat32Grade(DW dw, VW z) {
    const VW one = hn::Set(dw, 1.0);
    const auto negative = hn::Lt(z, hn::Zero(dw));
    const VW a = hn::Max(hn::Or(z, hn::SignBit(dw)), hn::Set(dw, -708.0));
    // k = round(a / ln2) in the low bits of shifted (a + 1.5 2^52 rounds).
    const VW magic = hn::Set(dw, 0x1.8p52);
    const VW shifted = hn::MulAdd(a, hn::Set(dw, 1.4426950408889634), magic);
    const VW k = hn::Sub(shifted, magic);
    // |k| <= 1022: ln2 k in one double errs by 2^-44 at most.
    const VW r = hn::NegMulAdd(k, hn::Set(dw, 0.6931471805599453), a);
    const hn::RebindToUnsigned<DW> du;
    const VW power =
        hn::BitCast(dw, hn::Add(hn::ShiftLeft<52>(hn::BitCast(du, shifted)),
                                hn::BitCast(du, one)));
    if constexpr (kRootForm) {
      // h = z - z0 (z0 = hi + lo; z - hi is exact by Sterbenz near z0).
      const VW h = hn::Sub(hn::Sub(z, hn::Set(dw, -1.2784645427610737)),
                           hn::Set(dw, -1.0946994183093437e-16));
      const auto near = hn::Lt(hn::Abs(h), hn::Set(dw, 0.34));
      const VW poly = Expm1Float32Grade<6>(dw, hn::IfThenElse(near, h, r));
      const VW scale =
          hn::IfThenElse(near, hn::Set(dw, 0.2784645427610738), power);
      const VW e = hn::MulAdd(scale, poly, scale);
      const VW q = ReciprocalFloat32Grade(dw, hn::Add(one, e));
      const VW eq = hn::Mul(e, q);
      sigmoid_slope = hn::Mul(eq, q);
      const VW away = hn::IfThenElse(negative, hn::MulAdd(a, sigmoid_slope, eq),
                                     hn::NegMulAdd(a, sigmoid_slope, q));
      derivative = hn::IfThenElse(
          near, hn::Mul(sigmoid_slope, hn::MulAdd(scale, poly, h)), away);
    } else {
      const VW e = hn::MulAdd(power, Expm1Float32Grade<7>(dw, r), power);
      const VW one_plus_e = hn::Add(one, e);
      const VW q = ReciprocalFloat32Grade(dw, one_plus_e);
      const VW q2 = hn::Mul(q, q);
      sigmoid_slope = hn::Mul(e, q2);
      // (1 + e) - a e for z >= 0, e (1 + e) + a e for z < 0.
      const VW numerator = hn::MulAdd(
          hn::IfThenElse(negative, e, hn::Neg(e)), a,
          hn::IfThenElse(negative, hn::Mul(e, one_plus_e), one_plus_e));
      derivative = hn::Mul(numerator, q2);
    }
  }
  VW derivative, sigmoid_slope;
};

// The float64 kernels and the forward. kUnitBeta: silu, beta = 1 whatever
// the parameters say.
template <bool kUnitBeta>
struct SwishOp {
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

  // Float64 lanes where y' is subnormal (z < -708): y' = e^z (1 + z) there
  // (1 + z exact), exp(z + z_low)'s 2^q folded into g (1 + z) 2^-11
  // (|1 + z| < 2^11 wherever the result is not 0).
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>& p) const {
    const Parts<D> s(d, x, p);
    const V lo = hn::Set(d, -1500.0);
    const V z_low = hn::IfThenElseZero(hn::Ge(s.z, lo), s.z_low);
    const V z = hn::Max(s.z, lo);
    const V one_plus_z = hn::Add(hn::Add(z, hn::Set(d, 1.0)), z_low);
    return GTimesExpTail(
        d, hn::Mul(g, hn::Mul(one_plus_z, hn::Set(d, 0x1p-11))), z, 11, z_low);
  }

  // df/dbeta = x^2 e / (1 + e)^2 (float64 arrays; in float32 lanes x e 2^64
  // would overflow for |x| > 2^64).
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

// Float32 f'(x) (kDerivative) or g f'(x) (kBackward), with EvalOp's NaN
// rules, over an array, and for kParamGrad the sum of g df/dbeta = g x^2
// sigma'(beta x) from the same float64 slopes (0 otherwise; NaN where x or g
// is). kUnitBeta: z = x (silu, or swish at beta 1), whose root lies inside
// the root window, so without the root form. kStream: non-temporal stores
// (never with kParamGrad: the sum's lanes must not depend on out's
// alignment, see BackwardParamGradLoop).
template <EvalKind kKind, bool kParamGrad, bool kUnitBeta, bool kStream>
HWY_NOINLINE double SwishLoopFloat32(const float* x, const float* g, float* out,
                                     size_t n, const KernelParams& params) {
  static_assert(!(kParamGrad && kStream));
  static_assert(kKind != EvalKind::kForward, "the forward is SwishOp's");
  hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  // Each float64 half of a float32 vector is a full float64 vector.
  hn::ScalableTag<double> dw;
  using VW = hn::Vec<decltype(dw)>;
  const VW beta =
      hn::Set(dw, static_cast<double>(static_cast<float>(params.beta)));
  VW sum = hn::Zero(dw);
  ForEachVector<kKind == EvalKind::kBackward, kStream>(
      d, x, g, out, n, [&](V xv, V gv) {
        V y = OnFloat64Halves(d, xv, gv, [&](auto dh, VW xw, VW gw) {
          const VW z = kUnitBeta ? xw : hn::Mul(beta, xw);
          const SwishSlopesFloat32Grade<decltype(dh), !kUnitBeta> s(dh, z);
          if constexpr (kParamGrad) {
            // x = +-inf: the limit 0, not inf e^-708.
            const VW term = hn::IfThenZeroElse(
                hn::IsInf(xw), hn::Mul(hn::Mul(xw, xw), s.sigmoid_slope));
            sum = hn::MulAdd(gw, term, sum);
          }
          // f'(z = -inf) is 0, not the clamp's tiny slope: an infinite g
          // gives NaN there, as g * 0 does.
          const VW derivative = hn::IfThenZeroElse(
              hn::Eq(z, hn::Set(dh, -std::numeric_limits<double>::infinity())),
              s.derivative);
          return kKind == EvalKind::kBackward ? hn::Mul(gw, derivative)
                                              : derivative;
        });
        if constexpr (kKind == EvalKind::kBackward) {
          y = hn::IfThenElse(hn::IsNaN(gv), gv, y);
        }
        return hn::IfThenElse(hn::IsNaN(xv), xv, y);
      });
  return hn::GetLane(hn::SumOfLanes(dw, sum));
}

// SwishLoopFloat32 for SwishOp<kUnitBeta>'s float32 kernels; swish at
// beta 1 takes silu's loop.
template <bool kUnitBeta, EvalKind kKind, bool kParamGrad = false>
double SwishFloat32(const float* x, const float* g, float* out, size_t n,
                    const KernelParams& params) {
  // The float32 kernels use float(beta) (as the forward does).
  const bool unit = kUnitBeta || static_cast<float>(params.beta) == 1.0f;
  return WithStreaming(params.stream_output && !kParamGrad, [&](auto stream) {
    constexpr bool kStream = decltype(stream)::value && !kParamGrad;
    return unit ? SwishLoopFloat32<kKind, kParamGrad, true, kStream>(x, g, out,
                                                                     n, params)
                : SwishLoopFloat32<kKind, kParamGrad, false, kStream>(
                      x, g, out, n, params);
  });
}

// SwishOp<kUnitBeta>'s loops, the float32 derivative and backward through
// SwishFloat32.
template <bool kUnitBeta, EvalKind kKind, typename T>
void SwishLoop(const T* x, const T* g, T* out, size_t n,
               const KernelParams& p) {
  if constexpr (std::is_same_v<T, float> && kKind != EvalKind::kForward) {
    SwishFloat32<kUnitBeta, kKind>(x, g, out, n, p);
  } else {
    ElementwiseLoop<kKind, SwishOp<kUnitBeta>>(x, g, out, n, p);
  }
}

// ACTSERVE_DEFINE_ELEMENTWISE_KERNELS for SwishOp<kUnitBeta>.
#define ACTSERVE_DEFINE_SWISH_KERNELS(kUnitBeta)                 \
  template <EvalKind kKind, typename T>                          \
  void SwishKernelLoop(const T* x, const T* g, T* out, size_t n, \
                       const KernelParams& p) {                  \
    SwishLoop<kUnitBeta, kKind>(x, g, out, n, p);                \
  }                                                              \
  ACTSERVE_DEFINE_ELEMENTWISE_KERNELS_FROM_LOOP(SwishKernelLoop)

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_SWISH_INL_H_
