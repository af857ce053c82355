// The exact rounding error a b - fl(a b) of a product, compiled once per SIMD
// target (include after hwy/foreach_target.h).
//
// Compensated formulations (gelu's -x / sqrt(2) and x^2, whose rounding exp
// and erfc amplify by x^2) need it on every target. With FMA it is one fused
// multiply-subtract; SSE4, SSSE3 and the scalar targets have none, and
// Highway's MulSub there rounds the product first (giving 0), so it is
// Dekker's TwoProduct with Veltkamp splitting instead. Exact when no partial
// product overflows or underflows (|a b| well inside the normal range).

#if defined(ACTSERVE_CORE_KERNELS_PRODUCT_ERROR_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_PRODUCT_ERROR_INL_H_
#undef ACTSERVE_CORE_KERNELS_PRODUCT_ERROR_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_PRODUCT_ERROR_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if !HWY_NATIVE_FMA
// a = hi + lo with hi holding the upper half of the significand.
template <class D, class V = hn::Vec<D>>
HWY_INLINE void VeltkampSplit(D d, V a, V& hi, V& lo) {
  using T = hn::TFromD<D>;
  // 2^ceil(p/2) + 1 for p = 24 / 53 significand bits.
  const V splitter =
      hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 4097.0 : 134217729.0));
  const V c = hn::Mul(a, splitter);
  hi = hn::Sub(c, hn::Sub(c, a));
  lo = hn::Sub(a, hi);
}
#endif

// a b - p exactly, for p = fl(a b).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ProductError(D d, V a, V b, V p) {
#if HWY_NATIVE_FMA
  (void)d;
  return hn::MulSub(a, b, p);
#else
  V ah, al, bh, bl;
  VeltkampSplit(d, a, ah, al);
  VeltkampSplit(d, b, bh, bl);
  const V e1 = hn::Sub(hn::Mul(ah, bh), p);
  const V e2 = hn::Add(e1, hn::Mul(ah, bl));
  const V e3 = hn::Add(e2, hn::Mul(al, bh));
  return hn::Add(e3, hn::Mul(al, bl));
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_PRODUCT_ERROR_INL_H_
