// exp(x) and exp(x + xl) for x <= 0 with a single final rounding, also into
// the subnormals, compiled once per SIMD target (include after
// hwy/foreach_target.h). Softplus and log_sigmoid need e = exp(-|z|).
//
// On AVX-512 vectors the reconstruction 2^q (1 + p) is one vscalefps/pd: it
// takes q as a float (no conversion to integers and back, no exponent
// arithmetic), rounds once into the subnormals and gives 0 below them, so
// the only guard left is a clamp that keeps the reduction finite. Elsewhere
// it is ExpScaled. p is Highway's ExpPoly either way (about 1 ULP).
//
// xl is a low-order part of the argument (|xl| at most about an ULP of x):
// folded into the reduced argument r, exp(x + xl) = 2^q exp(r + xl) costs
// one addition (ExpNonPositiveSplit).

#if defined(ACTSERVE_CORE_KERNELS_EXP_NONPOSITIVE_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_EXP_NONPOSITIVE_INL_H_
#undef ACTSERVE_CORE_KERNELS_EXP_NONPOSITIVE_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_EXP_NONPOSITIVE_INL_H_
#endif

#include <cstdint>
#include <type_traits>

#include "core/kernels/exp_scaled-inl.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// v 2^floor(e), one rounding.
HWY_INLINE hn::Vec512<float> Scalef(hn::Vec512<float> v, hn::Vec512<float> e) {
  return hn::Vec512<float>{_mm512_scalef_ps(v.raw, e.raw)};
}
HWY_INLINE hn::Vec512<double> Scalef(hn::Vec512<double> v,
                                     hn::Vec512<double> e) {
  return hn::Vec512<double>{_mm512_scalef_pd(v.raw, e.raw)};
}
template <class V>
constexpr bool kHasScalef = std::is_same_v<V, hn::Vec512<float>> ||
                            std::is_same_v<V, hn::Vec512<double>>;
#else
template <class V>
constexpr bool kHasScalef = false;
#endif

// Below this, exp(x) is under half the smallest subnormal: the clamp of x.
template <typename T>
constexpr T kExpNonPositiveLo = static_cast<T>(sizeof(T) == 4 ? -120 : -1100);

// 2^q and the reduced argument x - q ln2 for x <= 0 (scalef path).
template <class D, class V = hn::Vec<D>>
struct ExpReduced {
  ExpReduced(D d, V x) {
    using T = hn::TFromD<D>;
    x = hn::Max(x, hn::Set(d, kExpNonPositiveLo<T>));  // scalef gives 0 there
    q = hn::Round(
        hn::Mul(x, hn::Set(d, static_cast<T>(1.442695040888963407359924681))));
    r = MinusQLn2(d, q, x);
  }
  V q, r;
};

// exp(x) for x <= 0 (NaN lanes give an unspecified value).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ExpNonPositive(D d, V x) {
  if constexpr (kHasScalef<V>) {
    using T = hn::TFromD<D>;
    hn::impl::ExpImpl<T> impl;
    const ExpReduced<D> e(d, x);
    return Scalef(hn::Add(impl.ExpPoly(d, e.r), hn::Set(d, T{1})), e.q);
  } else {
    return ExpScaled(d, x, 0);
  }
}

// exp(x + xl) for x <= 0, to first order in xl, as mant 2^exp2 with mant
// normal wherever x is above the clamp, for callers that divide a subnormal
// exp(x + xl) by something below 1: dividing mant first rounds once. With
// scalef mant = 1 + p and exp2 = q; elsewhere mant = exp(x + xl) 2^k and
// exp2 = -k (k = 64 float, 512 double); both mant = 0 below the clamp. xl is
// ignored where x is below the clamp (it may be anything there, inf included).
template <class D, class V = hn::Vec<D>>
class ExpNonPositiveSplit {
 public:
  ExpNonPositiveSplit(D d, V x, V xl) {
    using T = hn::TFromD<D>;
    // Below the clamp mant is 0 (whatever xl made of it), as q belongs to the
    // clamp rather than to x.
    const auto in_range = hn::Ge(x, hn::Set(d, kExpNonPositiveLo<T>));
    if constexpr (kHasScalef<V>) {
      hn::impl::ExpImpl<T> impl;
      const ExpReduced<D> e(d, x);
      mant_ = hn::IfThenElseZero(
          in_range,
          hn::Add(impl.ExpPoly(d, hn::Add(e.r, xl)), hn::Set(d, T{1})));
      exp2_ = e.q;
    } else {
      // As ExpScaled(x, kShift), with xl added to the reduced argument (not
      // applied as e (1 + xl), which rounds once more).
      hn::impl::ExpImpl<T> impl;
      x = hn::Max(x, hn::Set(d, kExpNonPositiveLo<T>));
      const auto q = impl.ToInt32(
          d, hn::MulSub(
                 x, hn::Set(d, static_cast<T>(1.442695040888963407359924681)),
                 hn::Set(d, static_cast<T>(0.5))));  // round(x / ln2)
      const V p = impl.ExpPoly(d, hn::Add(impl.ExpReduce(d, x, q), xl));
      const hn::Rebind<int32_t, D> di32;
      mant_ = hn::IfThenElseZero(
          in_range, impl.LoadExpShortRange(d, hn::Add(p, hn::Set(d, T{1})),
                                           hn::Add(q, hn::Set(di32, kShift))));
    }
  }

  V mant() const { return mant_; }

  // exp(x + xl): one rounding where it is normal.
  V Value(D d) const { return Scale(d, mant_); }

  // v 2^exp2.
  V Scale(D d, V v) const {
    if constexpr (kHasScalef<V>) {
      (void)d;
      return Scalef(v, exp2_);
    } else {
      using T = hn::TFromD<D>;
      return hn::Mul(
          v, hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 0x1p-64 : 0x1p-512)));
    }
  }

 private:
  // 2^kShift keeps mant normal down to the clamp (float: e^-120 2^64 =
  // 2^-109; double: e^-1100 2^512 = 2^-1075, normal to below e^-1060).
  static constexpr int32_t kShift = sizeof(hn::TFromD<D>) == 4 ? 64 : 512;
  V mant_;
  V exp2_;  // with scalef
};

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_EXP_NONPOSITIVE_INL_H_
