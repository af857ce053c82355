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

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_EXP_SCALED_INL_H_
