// log(1 + u) for u in [0, 1], compiled once per SIMD target (include after
// hwy/foreach_target.h). Softplus and its relatives need it for u = exp(-|z|).
//
// Highway's Log1p measures 2.4 ULP; composed with exp that leaves too little
// room under 4 ULP. Here log(1 + u) = 2 atanh(s) with 2s = 2u / (2 + u) in
// [0, 2/3]: 2s carries ~0.7 ULP (one division, 2 + u rounded relative to 2),
// and the series 2s (1 + s^2 R(s^2)) adds at most 4% on top, so the result
// is within about 1.2 ULP. R is a least-squares fit on Chebyshev nodes
// (relative fit error 5e-9 float, 1.4e-18 double). For subnormal u, 2u / 2 is
// exact, so log(1 + u) = u to the last bit.

#if defined(ACTSERVE_CORE_KERNELS_LOG1P_UNIT_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_LOG1P_UNIT_INL_H_
#undef ACTSERVE_CORE_KERNELS_LOG1P_UNIT_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_LOG1P_UNIT_INL_H_
#endif

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// q (1 + s^2 R(s^2)) for the given 2s, where q is 2s or 2s / c.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Log1pSeries(D d, V q, V two_s) {
  using T = hn::TFromD<D>;
  // R below is fitted in t = s^2; w = 4 t, with the coefficients c_k of t^k
  // scaled by 4^-(k+1) (exactly) so that 2s w R'(w) = 2s s^2 R(s^2).
  const V w = hn::Mul(two_s, two_s);
  V r;
  if constexpr (sizeof(T) == 4) {
    r = hn::impl::Estrin(w, hn::Set(d, 0.33333205234031578995f / 4),
                         hn::Set(d, 0.20010895427419739479f / 16),
                         hn::Set(d, 0.13999086629214952813f / 64),
                         hn::Set(d, 0.14013819784135725197f / 256));
  } else {
    r = hn::impl::Estrin(w, hn::Set(d, 0.33333333333333149378 / 4),
                         hn::Set(d, 0.20000000000078996055 / 16),
                         hn::Set(d, 0.14285714273916981497 / 64),
                         hn::Set(d, 0.11111111984061161807 / 256),
                         hn::Set(d, 0.090908720237547856849 / 1024),
                         hn::Set(d, 0.076932781744185761598 / 4096),
                         hn::Set(d, 0.066505147134270461379 / 16384),
                         hn::Set(d, 0.060527969492606830891 / 65536),
                         hn::Set(d, 0.041712067048118474044 / 262144),
                         hn::Set(d, 0.085070365635924789476 / 1048576));
  }
  return hn::MulAdd(hn::Mul(q, w), r, q);
}

// log(1 + u) for 0 <= u <= 1.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Log1pUnit(D d, V u) {
  using T = hn::TFromD<D>;
  // A division: on Zen 4 it runs beside the multiply-adds, and a reciprocal
  // estimate with a residual step (three more of those) measured slower.
  const V two_s = hn::Div(hn::Add(u, u), hn::Add(hn::Set(d, T{2}), u));
  return Log1pSeries(d, two_s, two_s);
}

// log(1 + u) / c for 0 <= u <= 1 and 2^-126 <= c <= 2^64: 2s / c =
// 2u / (2c + cu) with the denominator rounded once (a fused multiply-add;
// twice on targets without FMA) as 2 + u is above, so dividing by c costs
// neither a second division nor a second rounding. 2s itself (for s^2 only) is
// (2s / c) c.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Log1pUnitOver(D d, V u, V c) {
  const V q = hn::Div(hn::Add(u, u), hn::MulAdd(c, u, hn::Add(c, c)));
  return Log1pSeries(d, q, hn::Mul(q, c));
}

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_LOG1P_UNIT_INL_H_
