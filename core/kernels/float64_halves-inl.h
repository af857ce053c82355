// Float32 vectors computed in float64 lanes, compiled once per SIMD target
// (include after hwy/foreach_target.h). Where a float32 formula would need
// its intermediate results carried to twice the precision (exact product and
// sum errors), float64 lanes carry them for free: float32-grade
// approximations suffice and the result rounds once.

#if defined(ACTSERVE_CORE_KERNELS_FLOAT64_HALVES_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_FLOAT64_HALVES_INL_H_
#undef ACTSERVE_CORE_KERNELS_FLOAT64_HALVES_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_FLOAT64_HALVES_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// fn(dw, a_half, b_half) on float64 halves of float32 vectors a and b; its
// float64 results are rounded once to float32 and put back together.
template <class D, class Fn, class V = hn::Vec<D>>
HWY_INLINE V OnFloat64Halves(D d, V a, V b, Fn fn) {
#if HWY_TARGET == HWY_SCALAR
  const hn::Rebind<double, D> dw;
  const double y =
      hn::GetLane(fn(dw, hn::PromoteTo(dw, a), hn::PromoteTo(dw, b)));
  // Highway 1.0.3's SCALAR DemoteTo clamps overflow to FLT_MAX.
  return hn::Set(d, static_cast<float>(y));
#else
  const hn::Half<D> dh;
  const hn::Rebind<double, decltype(dh)> dw;
  const auto lo = fn(dw, hn::PromoteTo(dw, hn::LowerHalf(dh, a)),
                     hn::PromoteTo(dw, hn::LowerHalf(dh, b)));
  const auto hi = fn(dw, hn::PromoteTo(dw, hn::UpperHalf(dh, a)),
                     hn::PromoteTo(dw, hn::UpperHalf(dh, b)));
  return hn::Combine(d, hn::DemoteTo(dh, hi), hn::DemoteTo(dh, lo));
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_FLOAT64_HALVES_INL_H_
