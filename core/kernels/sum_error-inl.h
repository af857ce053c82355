// The exact rounding error a + b - fl(a + b) of a sum, compiled once per SIMD
// target (include after hwy/foreach_target.h). With ProductError
// (product_error-inl.h) it carries intermediate results to about twice the
// working precision where a formula cancels or many roundings add up.
// Exact on every target (no FMA needed) unless the sum overflows.

#if defined(ACTSERVE_CORE_KERNELS_SUM_ERROR_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_SUM_ERROR_INL_H_
#undef ACTSERVE_CORE_KERNELS_SUM_ERROR_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_SUM_ERROR_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// a + b - sum for sum = fl(a + b) and |a| >= |b| (or a = 0): Fast2Sum.
template <class V>
HWY_INLINE V FastSumError(V a, V b, V sum) {
  return hn::Add(hn::Sub(a, sum), b);
}

// a + b - sum for sum = fl(a + b), any magnitudes: Knuth's TwoSum.
template <class V>
HWY_INLINE V SumError(V a, V b, V sum) {
  const V b_virtual = hn::Sub(sum, a);
  return hn::Add(hn::Sub(a, hn::Sub(sum, b_virtual)), hn::Sub(b, b_virtual));
}

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_SUM_ERROR_INL_H_
