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
    // lo: exp(lo) is below every subnormal even times 2^64. hi: q - 1 splits
    // into two halves Pow2I can represent (127 / 1023), and c e^hi overflows
    // for every normal c (e^176.5 = 2^254.6, e^1418.5 = 2^2046.5).
    V clamped = hn::Max(z, hn::Set(d, static_cast<T>(kF32 ? -120 : -800)));
    if constexpr (!kNonPositive) {
      clamped =
          hn::Min(clamped, hn::Set(d, static_cast<T>(kF32 ? 176.5 : 1418.5)));
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
      const V big_c = impl.LoadExpShortRange(d, c, hn::Sub(q_, k));
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

  // c exp(z + zl) for any c (backward passes use c = g).
  V ScaledExp(D d, V c) const {
    using T = hn::TFromD<D>;
    // c (1 + p') by one multiply-add, unless |c| is so large that it could
    // overflow (or is inf, where the multiply-add gives inf - inf): then
    // (c / 2) fl(1 + p') times 2, where the result cannot be subnormal.
    const auto huge =
        hn::Gt(hn::Abs(c), hn::Set(d, std::numeric_limits<T>::max() / 2));
    const V half_c = hn::Mul(c, hn::Set(d, T(0.5)));
    const V scaled =
        hn::IfThenElse(huge, hn::Mul(half_c, hn::Add(hn::Set(d, T{1}), p_)),
                       hn::MulAdd(c, p_, c));
    V y;
    if constexpr (kHasScalef<V>) {
      y = Scalef(scaled, qf_);
    } else {
      y = hn::impl::ExpImpl<T>().LoadExpShortRange(d, scaled, q_);
    }
    return hn::IfThenElse(huge, hn::Add(y, y), y);
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
