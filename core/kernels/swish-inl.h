// swish(x) = x sigmoid(beta x) and its derivative, shared by silu (beta = 1)
// and swish (learnable beta). Compiled once per SIMD target (include after
// hwy/foreach_target.h and core/kernels/elementwise-inl.h).
//
// With z = beta x and e = exp(-|z|) <= 1 nothing overflows:
//   f   = x / (1 + e)                      z >= 0
//       = x e / (1 + e)                    z <  0
//   f'  = (1 + e (1 + z)) / (1 + e)^2      z >= 0
//       = e (1 + z + e) / (1 + e)^2        z <  0
//   df/dbeta = x^2 e / (1 + e)^2
// e is carried scaled by 2^64 so that x e stays accurate where e alone is
// subnormal but the product is not (float x in [-104, -87]). The rounding
// error of z = fl(beta x) is recovered exactly by a fused multiply-subtract
// and corrects e to first order, since exp amplifies it by |z|.
//
// 1 + z + e crosses zero at z0 = -1 - W(1/e) = -1.2784645...; there the
// direct sum cancels. Writing z = z0 + h, the identity e^{z0} = -(1 + z0)
// gives 1 + z + e^z = h + e^{z0} expm1(h): both terms share h's sign, so
// near the root (|h| < ln2/2) the numerator keeps full relative accuracy
// and f' is accurate even next to its root.

#if defined(ACTSERVE_CORE_KERNELS_SWISH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#undef ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_SWISH_INL_H_
#endif

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {

// kUnitBeta: silu, beta = 1 whatever the parameters say.
template <bool kUnitBeta>
struct SwishOp {
  static constexpr int32_t kScale = 64;

  template <class D, class V = hn::Vec<D>>
  struct Parts {
    Parts(D d, V x, const VecParams<D>& p) {
      using T = hn::TFromD<D>;
      if constexpr (kUnitBeta) {
        z = x;
        z_low = hn::Zero(d);
      } else {
        z = hn::Mul(p.beta, x);
        z_low = hn::IfThenElseZero(hn::IsFinite(z), hn::MulSub(p.beta, x, z));
      }
      negative = hn::Lt(z, hn::Zero(d));
      const ExpSplit<D> split(d, hn::Neg(hn::Abs(z)));
      scale = split.scale;
      // exp(-|z + zl|) = e (1 + c), c = -+zl: fold c into poly.
      const V c = hn::IfThenElse(negative, z_low, hn::Neg(z_low));
      poly = hn::MulAdd(c, split.poly, hn::Add(split.poly, c));
      unscale = hn::Set(d, static_cast<T>(1.0 / 18446744073709551616.0));
      one = hn::Set(d, T{1});
      e = hn::Mul(hn::MulAdd(scale, poly, scale), unscale);
      // 1 + e with one rounding: 1 + 2^q is exact wherever 2^q matters.
      const V scale_unscaled = hn::Mul(scale, unscale);
      one_plus_e =
          hn::MulAdd(scale_unscaled, poly, hn::Add(one, scale_unscaled));
      // (1 + e)^2 with one rounding of the sum.
      one_plus_e_sq = hn::MulAdd(e, hn::Add(e, hn::Set(d, T{2})), one);
      // x or beta x infinite: the limits, not inf * 0.
      infinite = hn::Or(hn::IsInf(x), hn::IsInf(z));
    }
    // y e 2^64 with one rounding (scale y is exact).
    V TimesE(V y) const {
      const V sy = hn::Mul(scale, y);
      return hn::MulAdd(sy, poly, sy);
    }
    V z, z_low, scale, poly, unscale, e, one, one_plus_e, one_plus_e_sq;
    hn::Mask<D> negative, infinite;
  };

  template <class D, class V = hn::Vec<D>>
  hn::Mask<D> NeedsWide(D d, V, const VecParams<D>&) const {
    return hn::FirstN(d, 0);
  }

  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>& p) const {
    const Parts<D> s(d, x, p);
    const V neg = hn::Mul(hn::Div(s.TimesE(x), s.one_plus_e), s.unscale);
    // x = -inf: the limit is 0, not -inf * 0.
    const V neg_limit = hn::IfThenZeroElse(s.infinite, neg);
    return hn::IfThenElse(s.negative, neg_limit, hn::Div(x, s.one_plus_e));
  }

  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    using T = hn::TFromD<D>;
    const Parts<D> s(d, x, p);
    // z >= 0; e (1 + z) is negligible long before z could overflow it.
    const V z_capped = hn::Min(s.z, hn::Set(d, T{1000}));
    const V pos = hn::Div(hn::MulAdd(s.e, hn::Add(s.one, z_capped), s.one),
                          s.one_plus_e_sq);
    // z < 0, away from the root: (1 + z + zl) + e.
    const V direct = hn::Add(hn::Add(hn::Add(s.one, s.z), s.z_low), s.e);
    // Near the root: h + e^{z0} expm1(h), h = z - z0 exactly (z0 = hi + lo,
    // z - hi is exact by Sterbenz for z in [2 hi, hi / 2]).
    const V z0_hi =
        hn::Set(d, static_cast<T>(sizeof(T) == 4 ? -1.2784645557403564
                                                 : -1.2784645427610737));
    const V z0_lo =
        hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 1.2979282650203141261e-8
                                                 : -1.094699418309343743e-16));
    const V h = hn::Add(hn::Sub(s.z, z0_hi), hn::Sub(s.z_low, z0_lo));
    hn::impl::ExpImpl<T> exp_impl;
    const V near = hn::MulAdd(
        hn::Set(d, static_cast<T>(0.278464542761073795109358739022980155)),
        exp_impl.ExpPoly(d, h), h);
    const V numerator = hn::IfThenElse(
        hn::Lt(hn::Abs(h), hn::Set(d, static_cast<T>(0.34))), near, direct);
    const V neg =
        hn::Mul(hn::Div(s.TimesE(numerator), s.one_plus_e_sq), s.unscale);
    return hn::IfThenElse(s.negative, hn::IfThenZeroElse(s.infinite, neg), pos);
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE

  // df/dbeta = x^2 e / (1 + e)^2 (float64 lanes only).
  template <class D, class V = hn::Vec<D>>
  V ParamPartial(D d, V x, const VecParams<D>& p) const {
    const Parts<D> s(d, x, p);
    const V xe = hn::Div(s.TimesE(x), s.one_plus_e_sq);
    return hn::IfThenZeroElse(s.infinite, hn::Mul(hn::Mul(x, xe), s.unscale));
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_SWISH_INL_H_
