// exp(x) * 2^k with a single final rounding, for any finite or infinite x,
// compiled once per SIMD target (include after hwy/foreach_target.h).
//
// Highway's Exp returns 0 below x = -104 (float) / -1000 (double) although
// exp(x) is a nonzero subnormal down to about -103.97 / -745.13, and it rounds
// twice when a caller multiplies its result by a power of two. Folding 2^k
// into the exponent of the reconstruction keeps 4 exp(-2|x|) (tanh', sech^2)
// and friends accurate to the last subnormal. Error: Highway's ExpPoly,
// about 1 ULP, in the normal range; within one subnormal ULP below it.

#if defined(ACTSERVE_CORE_KERNELS_EXP_SCALED_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_EXP_SCALED_INL_H_
#undef ACTSERVE_CORE_KERNELS_EXP_SCALED_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_EXP_SCALED_INL_H_
#endif

#include <cstdint>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// x - q ln 2 with ln 2 in two parts, as in Highway's ExpReduce
// (Cody-Waite): q ln2_hi is exact for every integer q an exp argument
// reaches.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V MinusQLn2(D d, V q, V x) {
  using T = hn::TFromD<D>;
  constexpr bool kF32 = sizeof(T) == 4;
  const V r = hn::MulAdd(
      q,
      hn::Set(d, static_cast<T>(kF32 ? -0.693145751953125
                                     : -0.6931471805596629565116018)),
      x);
  return hn::MulAdd(
      q,
      hn::Set(d, static_cast<T>(kF32 ? -1.428606765330187045e-6
                                     : -0.28235290563031577122588448175e-12)),
      r);
}

// exp(x) * 2^k for |k| <= 64 (2^64 keeps exp(x) normal where a product with
// it is, e.g. x exp(x) near x = -100 in float). Returns 0 where the result
// underflows and inf where it overflows; NaN lanes give an unspecified value.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ExpScaled(D d, V x, int32_t k) {
  using T = hn::TFromD<D>;
  constexpr bool kF32 = sizeof(T) == 4;
  hn::impl::ExpImpl<T> impl;
  // Below lo the result is 0 even when scaled by 2^64 and multiplied by x
  // itself; above hi it overflows. Clamping keeps the integer exponent q,
  // and both halves LoadExpShortRange splits it into, in range.
  const V lo = hn::Set(d, static_cast<T>(kF32 ? -120 : -1100));
  const auto underflow = hn::Lt(x, lo);
  x = hn::Min(hn::Max(x, lo), hn::Set(d, static_cast<T>(kF32 ? 100 : 720)));
  const V half = hn::Set(d, static_cast<T>(0.5));
  const V neg_zero = hn::Set(d, static_cast<T>(-0.0));
  const V inv_ln2 = hn::Set(d, static_cast<T>(1.442695040888963407359924681));
  // q = round(x / ln 2).
  const auto q = impl.ToInt32(
      d, hn::MulAdd(x, inv_ln2, hn::Or(half, hn::And(x, neg_zero))));
  const V p = hn::Add(impl.ExpPoly(d, impl.ExpReduce(d, x, q)),
                      hn::Set(d, static_cast<T>(1)));
  const hn::Rebind<int32_t, D> di32;
  return hn::IfThenZeroElse(
      underflow, impl.LoadExpShortRange(d, p, hn::Add(q, hn::Set(di32, k))));
}

// exp(x) 2^64 = scale (1 + poly) for x <= 0, unrounded: scale is an exact
// power of two and poly = expm1 of the reduced argument (|poly| < 0.42), so
// a caller can form products e * y as scale * (y + poly y) with one rounding
// instead of rounding e first. Both are 0 where exp(x) 2^64 * |x| rounds to 0
// (x < -120 float, x < -752 double).
template <class D, class V = hn::Vec<D>>
struct ExpSplit {
  ExpSplit(D d, V x) {
    using T = hn::TFromD<D>;
    constexpr bool kF32 = sizeof(T) == 4;
    hn::impl::ExpImpl<T> impl;
    // Keeps q + 64 at or above the smallest normal exponent.
    const V lo = hn::Set(d, static_cast<T>(kF32 ? -120 : -752));
    const auto underflow = hn::Lt(x, lo);
    x = hn::Max(x, lo);
    const V inv_ln2 = hn::Set(d, static_cast<T>(1.442695040888963407359924681));
    // q = round(x / ln 2) for x <= 0.
    const auto q = impl.ToInt32(
        d, hn::MulSub(x, inv_ln2, hn::Set(d, static_cast<T>(0.5))));
    const hn::Rebind<int32_t, D> di32;
    scale = hn::IfThenZeroElse(underflow,
                               impl.Pow2I(d, hn::Add(q, hn::Set(di32, 64))));
    poly = impl.ExpPoly(d, impl.ExpReduce(d, x, q));
  }
  V scale, poly;
};

// g exp(x) 2^k for x <= -600, 2^-60 <= |g| < inf and 0 <= k <= 2: a
// backward pass's g f'(x) where f'(x) = exp(x) 2^k (1 + O(exp(x))) is below
// the smallest normal double, so that the (1 + ...) rounds to 1 (g may carry
// a constant factor of f'). g 2^(q + k) is exact (and normal wherever the
// result is not 0) and takes exp(x)'s
// 2^q instead of a subnormal exp(x); g 2^(q + k) (1 + p) then rounds once
// (twice, within a subnormal ULP, where the result is subnormal): about
// 1 ULP (Highway's ExpPoly) plus that rounding. x is clamped at -1460, below
// which even the largest finite g leaves 0; the reduction uses fdlibm's
// 32-bit ln 2 head, exact for every q that reaches, with or without FMA.
// xl, if given, is a low part of the argument, exp(x + xl) to first order
// (ignored below the clamp).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GTimesExpTail(D d, V g, V x, int32_t k, V xl) {
  static_assert(sizeof(hn::TFromD<D>) == 8, "float32 takes float64 lanes");
  hn::impl::ExpImpl<double> impl;
  const hn::Rebind<int32_t, D> di32;
  const V lo = hn::Set(d, -1460.0);
  xl = hn::IfThenElseZero(hn::Ge(x, lo), xl);
  x = hn::Max(x, lo);
  const auto q =
      impl.ToInt32(d, hn::MulSub(x, hn::Set(d, 1.442695040888963407359924681),
                                 hn::Set(d, 0.5)));
  const V qf = hn::PromoteTo(d, q);
  const V r = hn::NegMulAdd(
      qf, hn::Set(d, 1.90821492927058770002e-10),
      hn::NegMulAdd(qf, hn::Set(d, 6.93147180369123816490e-01), x));
  const V poly = impl.ExpPoly(d, hn::Add(r, xl));
  // 2^200 keeps g 2^(q + k) normal down to results of 2^-1222, below which
  // the result is 0 anyway. Each half of the exponent keeps g's product
  // with it normal.
  const V scaled_g =
      impl.LoadExpShortRange(d, g, hn::Add(q, hn::Set(di32, k + 200)));
  return hn::Mul(hn::MulAdd(scaled_g, poly, scaled_g), hn::Set(d, 0x1p-200));
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GTimesExpTail(D d, V g, V x, int32_t k) {
  return GTimesExpTail(d, g, x, k, hn::Zero(d));
}

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_EXP_SCALED_INL_H_
