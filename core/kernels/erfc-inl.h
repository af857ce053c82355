// erfc(x) for double vectors, compiled once per SIMD target (include after
// hwy/foreach_target.h). Highway 1.0.3 has no erf; SLEEF 3.5.1's erfc
// (maximum error 1.5 ULP, full range, erfc(-inf) = 2, erfc(inf) = 0) is
// called per ISA on full AVX-512, AVX2 and SSE4 vectors, and per lane (its
// scalar erfc) on the other targets and partial vectors. Only gelu's float64
// lanes use it: its float32 path has a rational of its own (gelu.cc).
//
// sleef.h declares its AVX and AVX-512 entry points only when the whole
// translation unit is compiled for them; here only the per-target regions are,
// so the few we call are declared below, each in the region of its target.

#if defined(ACTSERVE_CORE_KERNELS_ERFC_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_ERFC_INL_H_
#undef ACTSERVE_CORE_KERNELS_ERFC_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_ERFC_INL_H_
#endif

#include <sleef.h>

#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3
extern "C" __m512d Sleef_erfcd8_u15avx512f(__m512d);
#elif HWY_TARGET == HWY_AVX2
extern "C" __m256d Sleef_erfcd4_u15avx2(__m256d);
#endif
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V = hn::Vec<D>>
HWY_INLINE V Erfc(D d, V x) {
  static_assert(sizeof(hn::TFromD<D>) == 8, "float64 lanes only");
  [[maybe_unused]] constexpr size_t kBytes = hn::MaxLanes(D()) * sizeof(double);
#if HWY_TARGET == HWY_AVX3
  if constexpr (kBytes == 64) return V{Sleef_erfcd8_u15avx512f(x.raw)};
#elif HWY_TARGET == HWY_AVX2
  if constexpr (kBytes == 32) return V{Sleef_erfcd4_u15avx2(x.raw)};
#elif HWY_TARGET == HWY_SSE4
  if constexpr (kBytes == 16) return V{Sleef_erfcd2_u15sse4(x.raw)};
#endif
  HWY_ALIGN double lanes[hn::MaxLanes(D())];
  hn::Store(x, d, lanes);
  for (size_t i = 0; i < hn::Lanes(d); ++i) lanes[i] = Sleef_erfc_u15(lanes[i]);
  return hn::Load(d, lanes);
}

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_ERFC_INL_H_
