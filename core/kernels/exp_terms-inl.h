// c expm1(z + zl) and c exp(z + zl) for a constant c, compiled once per SIMD
// target (include after hwy/foreach_target.h).
//
// z + zl is an argument carried beyond working precision: celu's x / alpha is
// z ~ x / alpha plus the remainder term zl, whose loss exp would otherwise
// amplify by |z| (up to 88 times half an ULP near float overflow). With
// exp(z) = 2^q (1 + p), p = expm1 of the reduced argument
// (|r| <= ln2 / 2, Highway's ExpPoly, about 1 ULP):
//   exp(z + zl)      = 2^q (1 + p'),  p' = p + (1 + p) zl  (first order in zl)
//   c expm1(z + zl)  = C p' + (C - c),  C = c 2^q exactly,
// the latter by one multiply-add: no cancellation (q = 0 gives c p' itself),
// and exp(z) is never formed on its own, so c exp(z) stays finite wherever
// the result is. Where q > 0 the sum is formed at half scale and doubled
// (exact), because C can overflow where C (1 + p') does not; elsewhere it is
// formed at full scale so that subnormal results are rounded once.
//
// On AVX-512 vectors q stays a float and each 2^q scaling is one vscalefps/pd
// (one rounding, also into the subnormals; no integer exponent arithmetic).
//
// c must be a normal number; z any value (NaN lanes give an unspecified
// value); zl is ignored where it is not finite. Outside [lo, hi] the results
// are saturated: c expm1 -> -c and c exp -> 0 below, and above, where |c| 2^q
// overflows for any normal c, +-inf.

#if defined(ACTSERVE_CORE_KERNELS_EXP_TERMS_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_EXP_TERMS_INL_H_
#undef ACTSERVE_CORE_KERNELS_EXP_TERMS_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_EXP_TERMS_INL_H_
#endif

#include <cstdint>
#include <limits>

#include "core/kernels/exp_nonpositive-inl.h"  // Scalef
#include "core/kernels/product_error-inl.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// kNonPositive: the caller only uses lanes with z <= 0 (celu with
// alpha > 0), so q <= 0 and C cannot overflow; other lanes give unspecified
// values.
template <class D, bool kNonPositive = false, class V = hn::Vec<D>>
class ExpTerms {
 public:
  ExpTerms(D d, V z, V zl) {
    using T = hn::TFromD<D>;
    constexpr bool kF32 = sizeof(T) == 4;
    // c exp(lo) is below every subnormal even for the largest finite c, and
    // c exp(hi) overflows even for the smallest subnormal c (e^-+200 =
    // 2^-+288.5, e^-+1460 = 2^-+2106.3).
    V clamped = hn::Max(z, hn::Set(d, static_cast<T>(kF32 ? -200 : -1460)));
    if constexpr (!kNonPositive) {
      clamped = hn::Min(clamped, hn::Set(d, static_cast<T>(kF32 ? 200 : 1460)));
    }
    // zl belongs to the unclamped z (and is NaN where the caller's remainder
    // overflowed): the saturated results do not depend on it.
    zl = hn::IfThenElseZero(hn::And(hn::Eq(clamped, z), hn::IsFinite(zl)), zl);
    z = clamped;
    const V inv_ln2 = hn::Set(d, static_cast<T>(1.442695040888963407359924681));
    hn::impl::ExpImpl<T> impl;
    V p;
    if constexpr (kHasScalef<V>) {
      qf_ = hn::Round(hn::Mul(z, inv_ln2));
      p = impl.ExpPoly(d, MinusQLn2(d, qf_, z));
    } else {
      const V half = hn::CopySign(hn::Set(d, static_cast<T>(0.5)), z);
      q_ = impl.ToInt32(d, hn::MulAdd(z, inv_ln2, half));  // round(z / ln2)
      p = impl.ExpPoly(d, impl.ExpReduce(d, z, q_));
    }
    p_ = hn::MulAdd(hn::Add(hn::Set(d, T{1}), p), zl, p);
  }

  // c expm1(z + zl).
  V ScaledExpm1(D d, V c) const {
    if constexpr (kHasScalef<V>) {
      using T = hn::TFromD<D>;
      if constexpr (kNonPositive) {
        const V big_c = Scalef(c, qf_);
        return hn::MulAdd(big_c, p_, hn::Sub(big_c, c));
      } else {
        // 2^k: see top. Scalef rounds C into the subnormals as the generic
        // path's two multiplications do.
        const V k =
            hn::IfThenElseZero(hn::Gt(qf_, hn::Zero(d)), hn::Set(d, T{1}));
        const V big_c = Scalef(c, hn::Sub(qf_, k));
        const V sum =
            hn::MulAdd(big_c, p_, hn::Sub(big_c, Scalef(c, hn::Neg(k))));
        // An infinite C would meet -inf (p' < 0) in the sum; the result is C
        // then, since 1 + p' > 0.5.
        return Scalef(hn::IfThenElse(hn::IsInf(big_c), big_c, sum), k);
      }
    } else {
      hn::impl::ExpImpl<hn::TFromD<D>> impl;
      const VI32 k = hn::IfThenElseZero(hn::Gt(q_, hn::Zero(di32_)),
                                        hn::Set(di32_, 1));  // 2^k: see top
      const V c_k = hn::Mul(c, impl.Pow2I(d, hn::Neg(k)));
      // Below q = -174 / -1154 C is far under half an ULP of c (the result
      // is -c), above 255 / 2047 it overflows for every normal c; the clamp
      // keeps both halves of q - k representable (127 / 1023).
      constexpr bool kF32 = sizeof(hn::TFromD<D>) == 4;
      const VI32 q_clamped =
          hn::Min(hn::Max(q_, hn::Set(di32_, kF32 ? -174 : -1154)),
                  hn::Set(di32_, kF32 ? 255 : 2047));
      const V big_c = impl.LoadExpShortRange(d, c, hn::Sub(q_clamped, k));
      const V rest = hn::Sub(big_c, c_k);
#if HWY_NATIVE_FMA
      const V sum = hn::MulAdd(big_c, p_, rest);
#else
      // Highway's MulAdd rounds the product first here, which the
      // cancellation just above q = 1 (C p' ~ -0.58 c against C - c = c)
      // amplifies to over 4 ULP; adding the product's rounding error back
      // avoids that. The error is NaN where C is so large that Veltkamp's
      // split overflows; the result is inf there anyway.
      const V product = hn::Mul(big_c, p_);
      const V error = ProductError(d, big_c, p_, product);
      const V sum = hn::Add(hn::Add(product, rest),
                            hn::IfThenElseZero(hn::IsFinite(error), error));
#endif
      // An infinite C would meet -inf (p' < 0) in the sum; the result is C
      // then, since 1 + p' > 0.5.
      return hn::Mul(hn::IfThenElse(hn::IsInf(big_c), big_c, sum),
                     impl.Pow2I(d, k));
    }
  }

  // c exp(z + zl) for any c (backward passes use c = g), from c = m 2^s:
  // |c| beyond 2^+-60 (float) / 2^+-500 (double), subnormal or near
  // overflow, is scaled exactly into that range first, so m (1 + p') rounds
  // once with all of c's bits and never overflows, and 2^(q + s), its
  // exponent clamped to where the result is 0 or inf anyway, scales it once
  // (each half of the exponent keeps the partial product normal wherever the
  // result is not 0).
  V ScaledExp(D d, V c) const {
    using T = hn::TFromD<D>;
    constexpr bool kF32 = sizeof(T) == 4;
    const V abs_c = hn::Abs(c);
    const auto tiny =
        hn::Lt(abs_c, hn::Set(d, static_cast<T>(kF32 ? 0x1p-60 : 0x1p-500)));
    const auto huge =
        hn::Gt(abs_c, hn::Set(d, static_cast<T>(kF32 ? 0x1p60 : 0x1p500)));
    const T shift = kF32 ? 100 : 600;
    const V m = hn::Mul(
        c, hn::IfThenElse(
               tiny, hn::Set(d, static_cast<T>(kF32 ? 0x1p100 : 0x1p600)),
               hn::IfThenElse(
                   huge, hn::Set(d, static_cast<T>(kF32 ? 0x1p-100 : 0x1p-600)),
                   hn::Set(d, T{1}))));
    const V s = hn::IfThenElse(tiny, hn::Set(d, -shift),
                               hn::IfThenElseZero(huge, hn::Set(d, shift)));
    // inf (1 + p') by multiply-add would be inf - inf where p' < 0; the
    // result is m there, since 1 + p' > 0.5.
    const V scaled = hn::IfThenElse(hn::IsInf(m), m, hn::MulAdd(m, p_, m));
    // 0 below, inf above, for every m the ranges above allow.
    const V lo = hn::Set(d, static_cast<T>(kF32 ? -220 : -1600));
    const V hi = hn::Set(d, static_cast<T>(kF32 ? 190 : 1540));
    if constexpr (kHasScalef<V>) {
      return Scalef(scaled, hn::Min(hn::Max(hn::Add(qf_, s), lo), hi));
    } else {
      hn::impl::ExpImpl<T> impl;
      const VI32 e = hn::Add(q_, impl.ToInt32(d, s));
      return impl.LoadExpShortRange(
          d, scaled,
          hn::Min(hn::Max(e, impl.ToInt32(d, lo)), impl.ToInt32(d, hi)));
    }
  }

 private:
  using VI32 = hn::Vec<hn::Rebind<int32_t, D>>;
  hn::Rebind<int32_t, D> di32_;
  VI32 q_;  // round(z / ln2), without scalef
  V qf_;    // the same as a float, with scalef
  V p_;
};

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_EXP_TERMS_INL_H_
