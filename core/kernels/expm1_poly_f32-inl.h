// The float32 expm1 kernel polynomial shared by tanh and softmax, compiled
// once per SIMD target (include after hwy/foreach_target.h).

#if defined(ACTSERVE_CORE_KERNELS_EXPM1_POLY_F32_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_EXPM1_POLY_F32_INL_H_
#undef ACTSERVE_CORE_KERNELS_EXPM1_POLY_F32_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_EXPM1_POLY_F32_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// (expm1(r) - r) / r^2 for float lanes, |r| <= 0.3467 (r the argument
// reduced by ln 2): expm1(r) to degree 6, one less than Highway's: a minimax
// fit (Remez, coefficients rounded to float), relative error of
// 1 + expm1(r) below 2^-27, small next to the final rounding's 2^-24. Horner
// instead of Estrin: the loops are throughput-bound, so the longer
// dependency chain costs nothing, and it needs no r^4.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Expm1PolyF32(D d, V r) {
  V poly =
      hn::MulAdd(hn::Set(d, 0x1.6c3512p-10f), r, hn::Set(d, 0x1.124714p-7f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 0x1.55563ap-5f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 0x1.55547ep-3f));
  return hn::MulAdd(poly, r, hn::Set(d, 0x1.fffffep-2f));
}

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_EXPM1_POLY_F32_INL_H_
