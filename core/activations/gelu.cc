// gelu (exact): y = x Phi(x) = x erfc(-x / sqrt(2)) / 2,
//               y' = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
//
// The seed's 0.5 x (1 + erf(x / sqrt(2))) cancels for x < 0 (gelu(-10) =
// -7.6e-23 comes out 0). Both paths below keep Phi(x) to full relative
// accuracy in the negative tail. float32 has its own rational path (see
// GeluForwardF32), 5x faster than calling erfc; float64 uses erfc as follows.
//
// float64: erfc (SLEEF, 1.5 ULP). Its argument t = -x / sqrt(2) is rounded,
// and erfc amplifies a relative error of t by 2 t^2 (140x at x = -12), so
// t + tl = -x (c_hi + c_lo) is kept to twice the working precision (exact
// product error, see product_error-inl.h) and erfc(t + tl) = erfc(t) -
// tl (2 / sqrt(pi)) exp(-t^2). Likewise exp(-x^2 / 2) uses x^2 = s + sl
// exactly: exp(-(s + sl) / 2) = exp(-s / 2) (1 - sl / 2), and x phi(x), which
// dominates y' for x < -2.6, is formed from the unrounded exp split
// 2^q (1 + p) and x / sqrt(2 pi) in two parts with one main rounding.
//
// y' = Phi + x phi cancels around its root x0 = -0.75179 (Phi = -x phi): on
// [-2.6, -0.2], where the cancellation would cost more than 1.3x, float64 y'
// is a polynomial in three windows: (x - x0) P(x - x0) on [-1.2, -0.2] (x0 in
// two parts, so x - x0 is exact near the root), plain polynomials about -1.55
// and -2.25 beyond (y' has its minimum at -sqrt(2)). Relative least-squares
// fits, error under 1.3e-19; evaluation condition <= 3.3.
//
// Tails: float32 lanes below x = -12.5, where Phi and phi approach the
// subnormal range, are computed in float64. In float64 below x = -30,
// Phi(x) = phi(x) S(1/x^2) / |x| with the asymptotic series
// S = 1 - u + 3u^2 - 15u^3 + ... (8 terms, truncation < 1e-19), and phi
// carried scaled by 2^64 so that y and y' round once where they are subnormal
// (down to x = -38.6).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/gelu.cc"
// clang-format off: foreach_target.h re-includes this file once per target and
// must come before everything else.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include <cstddef>

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/erfc-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/product_error-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

constexpr long double kInvSqrt2 = 0.70710678118654752440084436210484904L;
constexpr long double kTwoOverSqrtPi = 1.12837916709551257389615890312154517L;
constexpr long double kInvSqrt2Pi = 0.398942280401432677939946059934381868L;

// float64 gelu' on [-2.6, -0.2], where Phi + x phi cancels, in three windows:
// [-1.2, -0.2]: gelu'(x) / (x - x0) in h = x - x0; [-1.9, -1.2] and
// [-2.6, -1.9]: gelu'(x) in h = x - (-1.55) and x - (-2.25). Lowest order
// first, zero-padded to one length.
constexpr double kNegativePolyF64[3][18] = {
    {0.431493992314046919794, 0.38828498299055199984, -0.0181996763986710903044,
     -0.114008233297222139073, -0.0147715221482440523713,
     0.0194216798382163869096, 0.00453922837911159956464,
     -0.00223953806885606840313, -0.000744826838251397085001,
     0.000186339758210664516174, 0.0000861594708844261994306,
     -0.0000112144851730059154684, -0.0000077483799680634661297,
     4.33375033865267392582e-7, 5.69794537308727243468e-7,
     -3.0464351430617365045e-9, -3.39662056308258478251e-8,
     2.80544301858611696103e-10},
    {-0.125443193078268662904, -0.0483036227805367026404,
     0.148578643425411729886, 0.140920444059059722958, 0.0205816201877755750689,
     -0.026044598365275182114, -0.0111532434368277645137,
     0.00160238549064201106094, 0.00187376768845373042082,
     0.00013589907626610373196, -0.000183039658612127289354,
     -0.000039663572545450449455, 0.0000112322763442637140935,
     0.00000462454565446882194541, -3.38203701029382473516e-7,
     -3.52082684126949747383e-7, -1.20875515887044020267e-8, 0.0},
    {-0.0591897439752069822828, -0.097202683746731460601,
     -0.0379388025848212096306, 0.0307271238799722428872,
     0.0358814594299460895479, 0.010613914699862089569,
     -0.00278692992411820846484, -0.00268677691308658286258,
     -0.000392933040986973867248, 0.000230288630263514489484,
     0.0000961866378431218673566, -0.0000027425750593882439416,
     -0.00000918680510159450799125, -0.00000138317139305485782922,
     4.76147502641476680214e-7, 1.64524020679797407379e-7,
     -6.83752501459501631501e-9, 0.0},
};

template <class D, class V = hn::Vec<D>, typename T, size_t kN>
HWY_INLINE V Horner(D d, V h, const T (&c)[kN]) {
  V r = hn::Set(d, c[kN - 1]);
  for (size_t i = kN - 1; i > 0; --i) {
    r = hn::MulAdd(r, h, hn::Set(d, c[i - 1]));
  }
  return r;
}

// The window's polynomial per lane: coefficients selected, one Horner pass.
template <class D, class V = hn::Vec<D>, typename T, size_t kN>
HWY_INLINE V WindowHorner(D d, V h, hn::Mask<D> w1, hn::Mask<D> w2,
                          const T (&c)[3][kN]) {
  const auto coefficient = [&](size_t i) {
    return hn::IfThenElse(
        w1, hn::Set(d, c[0][i]),
        hn::IfThenElse(w2, hn::Set(d, c[1][i]), hn::Set(d, c[2][i])));
  };
  V r = coefficient(kN - 1);
  for (size_t i = kN - 1; i > 0; --i) r = hn::MulAdd(r, h, coefficient(i - 1));
  return r;
}

// Phi(x) ~ phi(x) S(1 / x^2) / |x| for x <= -30 (float64 only).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V MillsSeries(D d, V u) {
  return Horner(
      d, u,
      {1.0, -1.0, 3.0, -15.0, 105.0, -945.0, 10395.0, -135135.0, 2027025.0});
}

// float64 pieces shared by Forward and Derivative: -Phi(x) and the split of
// exp(-x^2 / 2) 2^64.
template <class D, class V = hn::Vec<D>>
struct GeluParts {
  using T = hn::TFromD<D>;

  GeluParts(D d, V x) {
    // gelu is x or 0 beyond +-40; clamping keeps x^2 finite.
    xc = hn::Min(hn::Max(x, hn::Set(d, T{-40})), hn::Set(d, T{40}));
    const V c_hi = hn::Set(d, static_cast<T>(kInvSqrt2));
    const V c_lo =
        hn::Set(d, static_cast<T>(kInvSqrt2 - static_cast<T>(kInvSqrt2)));
    const V neg_x = hn::Neg(xc);
    const V t = hn::Mul(neg_x, c_hi);
    const V tl = hn::MulAdd(neg_x, c_lo, ProductError(d, neg_x, c_hi, t));
    const V s = hn::Mul(xc, xc);
    const V half_neg = hn::Set(d, T(-0.5));
    // exp(-x^2 / 2) 2^64 = scale (1 + poly) (1 + eps), eps = -sl / 2.
    const ExpSplit<D> split(d, hn::Mul(s, half_neg));
    scale = split.scale;
    const V eps = hn::Mul(ProductError(d, xc, xc, s), half_neg);
    corr = hn::MulAdd(split.poly, eps, hn::Add(split.poly, eps));
    unscale = hn::Set(d, static_cast<T>(0x1p-64));
    const V scale_unscaled = hn::Mul(scale, unscale);
    const V e = hn::MulAdd(scale_unscaled, split.poly, scale_unscaled);
    const V erfc =
        hn::MulAdd(hn::Mul(tl, hn::Set(d, static_cast<T>(-kTwoOverSqrtPi))), e,
                   Erfc(d, t));
    neg_phi_big = hn::Mul(erfc, half_neg);
    tail = hn::Lt(xc, hn::Set(d, T{-30}));
  }
  // y exp(-x^2 / 2) 2^64 for y = y_hi + y_lo, rounding once but for a term
  // under half the result.
  V TimesE(V y_hi, V y_lo) const {
    const V sy = hn::Mul(scale, y_hi);
    return hn::Add(sy, hn::MulAdd(sy, corr, hn::Mul(scale, y_lo)));
  }
  // x phi(x) 2^64.
  V XPhi(D d) const {
    const V c_hi = hn::Set(d, static_cast<T>(kInvSqrt2Pi));
    const V c_lo =
        hn::Set(d, static_cast<T>(kInvSqrt2Pi - static_cast<T>(kInvSqrt2Pi)));
    const V y = hn::Mul(xc, c_hi);
    return TimesE(y, hn::MulAdd(xc, c_lo, ProductError(d, xc, c_hi, y)));
  }
  V xc, scale, corr, unscale, neg_phi_big;  // -Phi(x)
  hn::Mask<D> tail;
};

// float32 gelu for a = |x| <= 13 (NeedsWide takes x < -12.5), with
// e = exp(-a^2 / 2) and c = 1 / sqrt(2 pi):
//   y  = x Phi(x) = x e m(a) (x <= 0),  x - x e m(a) (x > 0),
//   y' = Phi(x) + x phi(x) = -(a - x0) c (1 + k(a)) e (x <= 0),  1 - that,
// where m(a) = Phi(-a) / e (the Mills ratio times c) and x0 = 0.75179 is the
// root of gelu'(-a). m and k are rational fits on [0, 12.5] (relative least
// squares, Lawson-reweighted towards minimax; with the coefficients rounded to
// float32, 1.2e-8 relative on m and on y'), all coefficients positive, so
// Horner's rule for a >= 0 does not cancel:
//   m = Q / (2 + a (sqrt(2 pi) Q + P)), P of degree 3 and Q of degree 5
//     (m(0) = 1/2 exactly, and a sqrt(2 pi) is not rounded on its own);
//   c k = P' / Q', degrees 4 and 5, smooth through the root, so y' keeps full
//     relative accuracy there without windows; errors in k count only
//     k / (1 + k) <= 0.4 times.
// A float32 rounding at full weight costs up to 1 ULP of the result, so every
// step that would round one is kept to twice the working precision instead
// (FMA product errors, TwoSum and Fast2Sum, the exact remainder of the
// division for m), and e is applied unrounded as 2^q (1 + poly) (1 + poly_lo):
// the main term rounds once, at the end. Measured on dense sweeps (AVX3, AVX2):
// forward 2.85, derivative 1.88, backward 2.75 ULP; in the same order the
// plainer evaluation (all of these rounded) reached 4.0, 3.6 and 4.0.
// Without FMA the remainders are not exact and NeedsWide sends every lane to
// float64.
constexpr float kSqrt2Pi = 2.50662827463100050f;
constexpr float kMillsP[4] = {1.2482915271834611f, 0.41017104250522995f,
                              0.073169041589338096f, 0.0060667707713535799f};
constexpr float kMillsQ[6] = {1.0f,
                              1.0795753858292982f,
                              0.5601357071634061f,
                              0.16817244586207597f,
                              0.029204657313735262f,
                              0.0024199873541762697f};
// c times the fitted numerator of k.
constexpr float kRootP[5] = {0.2661357148708936f, 0.24591334622761574f,
                             0.10264050965625438f, 0.022035945284086832f,
                             0.0020800845190905859f};
constexpr float kRootQ[6] = {1.0f,
                             1.5877869197461418f,
                             1.0730090847816358f,
                             0.38999361973357793f,
                             0.077486448776572167f,
                             0.0069353725130762624f};

// exp(-a^2 / 2) = scale (1 + poly) (1 + poly_lo) for 0 <= a <= 13, float32.
// Rounding to q = round(-a^2 / (2 ln 2)) uses the 1.5 * 2^23 shift, whose low
// bits then hold q + 127, the biased exponent of scale = 2^q (normal: q >=
// -122). exp turns an absolute error of its argument into the same relative
// error, and the argument reaches -84.5, so the reduced argument is
// r_hi + poly_lo with r_hi exact and poly_lo = -q ln2_lo - sl / 2 (a^2 =
// s + sl exactly) unrounded; |poly_lo| < 1.8e-4, so 1 + poly_lo is exp(poly_lo)
// to 1.6e-8.
template <class D, class V = hn::Vec<D>>
struct HalfSquareExpF32 {
  HalfSquareExpF32(D d, V a) {
    const hn::RebindToSigned<D> di;
    const V s = hn::Mul(a, a);
    const V z = hn::Mul(s, hn::Set(d, -0.5f));
    const V shift = hn::Set(d, 12583039.0f);  // 1.5 * 2^23 + 127
    const V shifted = hn::MulAdd(z, hn::Set(d, 1.44269504088896341f), shift);
    const V q = hn::Sub(shifted, shift);
    // Exact: q ln2_hi has at most 24 bits.
    const V r_hi = hn::MulAdd(q, hn::Set(d, -0.693145751953125f), z);
    poly_lo = hn::MulAdd(q, hn::Set(d, -1.428606765330187045e-6f),
                         hn::Mul(ProductError(d, a, a, s), hn::Set(d, -0.5f)));
    hn::impl::ExpImpl<float> impl;
    poly = impl.ExpPoly(d, r_hi);
    scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, shifted)));
  }
  // (f + f_lo) exp(-a^2 / 2) / scale - f, for |f_lo| << |f|: all but f,
  // which the caller adds last.
  V Rest(V f, V f_lo) const {
    const V lo = hn::MulAdd(f, poly_lo, f_lo);
    return hn::MulAdd(f, poly, hn::MulAdd(lo, poly, lo));
  }
  V scale, poly, poly_lo;
};

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluForwardF32(D d, V x) {
  // x > 13 gives x - 13 Phi(-13) = x (13 Phi(-13) = 8e-38), including inf.
  const V xc = hn::Min(x, hn::Set(d, 13.0f));
  const V a = hn::Abs(xc);
  const HalfSquareExpF32<D> e(d, a);
  const V q = Horner(d, a, kMillsQ);
  const V den =
      hn::MulAdd(a, hn::MulAdd(hn::Set(d, kSqrt2Pi), q, Horner(d, a, kMillsP)),
                 hn::Set(d, 2.0f));
  const V m = hn::Div(q, den);
  // m's rounding error from the exact remainder q - m den (a few correct
  // bits of m_lo suffice).
  const V m_lo =
      hn::Mul(hn::NegMulAdd(m, den, q), hn::ApproximateReciprocal(den));
  // t + t_lo = xc (m + m_lo).
  const V t = hn::Mul(xc, m);
  const V t_lo = hn::MulAdd(xc, m_lo, ProductError(d, xc, m, t));
  const V sum = hn::Add(t, e.Rest(t, t_lo));  // x Phi(-a) / scale
  const auto positive = hn::Gt(x, hn::Zero(d));
  const V y = hn::MulAdd(hn::IfThenElse(positive, hn::Neg(sum), sum), e.scale,
                         hn::IfThenElse(positive, x, hn::Zero(d)));
  return hn::CopySign(y, x);  // y(-0) = -0
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluDerivativeF32(D d, V x) {
  const V a = hn::Min(hn::Abs(x), hn::Set(d, 13.0f));
  const HalfSquareExpF32<D> e(d, a);
  // h + h_lo = a - x0 (TwoSum, x0 in two parts).
  const V neg_root = hn::Set(d, -0.7517915368080139f);
  const V h = hn::Add(a, neg_root);
  const V b = hn::Sub(h, a);
  const V h_lo =
      hn::Add(hn::Add(hn::Sub(a, hn::Sub(h, b)), hn::Sub(neg_root, b)),
              hn::Set(d, 1.211444945855772e-8f));
  const V c = hn::Set(d, 0.3989422917366028f);
  const V ck = hn::Div(Horner(d, a, kRootP), Horner(d, a, kRootQ));
  // t + t_lo = (h + h_lo) (c + c_lo) (1 + k) with u + v = h c + h c k; the
  // rounding of v counts only k / (1 + k) times and is left.
  const V u = hn::Mul(h, c);
  const V v = hn::Mul(h, ck);
  const V t = hn::Add(u, v);  // |v| < |u|: Fast2Sum
  const V t_err = hn::Add(hn::Sub(v, hn::Sub(t, u)), ProductError(d, h, c, u));
  // (h_lo + h c_lo / c) (c + c k), c_lo / c = -2.84e-8.
  const V t_lo = hn::MulAdd(
      hn::Add(c, ck), hn::MulAdd(h, hn::Set(d, -2.8413057883604739e-8f), h_lo),
      t_err);
  const V sum = hn::Add(t, e.Rest(t, t_lo));  // -gelu'(-a) / scale
  const auto positive = hn::Gt(x, hn::Zero(d));
  return hn::MulAdd(hn::IfThenElse(positive, sum, hn::Neg(sum)), e.scale,
                    hn::IfThenElse(positive, hn::Set(d, 1.0f), hn::Zero(d)));
}

struct GeluOp {
  template <class D, class V = hn::Vec<D>>
  hn::Mask<D> NeedsWide(D d, V x, const VecParams<D> &) const {
#if HWY_NATIVE_FMA
    return hn::Lt(x, hn::Set(d, hn::TFromD<D>(-12.5)));
#else
    // The float32 path's error-free steps need FMA (unfused, the division's
    // remainder q - m den rounds): without it every lane is float64.
    (void)x;
    return hn::FirstN(d, hn::Lanes(d));
#endif
  }

  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D> &) const {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
      return GeluForwardF32(d, x);
    } else {
      const GeluParts<D> g(d, x);
      const V y = hn::Neg(hn::Mul(g.xc, g.neg_phi_big));
      // -phi(x) S(1 / x^2).
      const V inv_x2 = hn::Div(hn::Set(d, 1.0), hn::Mul(g.xc, g.xc));
      const V k = hn::Mul(MillsSeries(d, inv_x2), hn::Set(d, -kInvSqrt2Pi));
      const V tail = hn::Mul(g.TimesE(k, hn::Zero(d)), g.unscale);
      return hn::IfThenElse(hn::Gt(x, hn::Set(d, 40.0)), x,
                            hn::IfThenElse(g.tail, tail, y));
    }
  }

  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D> &) const {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
      return GeluDerivativeF32(d, x);
    } else {
      const GeluParts<D> g(d, x);
      const V dy = hn::MulSub(g.XPhi(d), g.unscale, g.neg_phi_big);
      // Near the root h = (x - x0_hi) - x0_lo; exact by Sterbenz on
      // [-1.2, -0.376], so h P(h) keeps full relative accuracy at the root.
      const V x0_hi = hn::Set(d, -0.7517915246935645);
      const V x0_lo = hn::Set(d, 1.4956759177009883e-17);
      const auto w1 = hn::Ge(g.xc, hn::Set(d, -1.2));
      const auto w2 = hn::Ge(g.xc, hn::Set(d, -1.9));
      // Elsewhere h = x - centre, exact by Sterbenz in the window.
      const V centre = hn::IfThenElse(w2, hn::Set(d, -1.55), hn::Set(d, -2.25));
      const V h = hn::IfThenElse(w1, hn::Sub(hn::Sub(g.xc, x0_hi), x0_lo),
                                 hn::Sub(g.xc, centre));
      V poly = WindowHorner(d, h, w1, w2, kNegativePolyF64);
      poly = hn::IfThenElse(w1, hn::Mul(h, poly), poly);
      const auto windows = hn::And(hn::Ge(g.xc, hn::Set(d, -2.6)),
                                   hn::Le(g.xc, hn::Set(d, -0.2)));
      // -phi (|x| - S / |x|) with |x| = -x.
      const V inv_x2 = hn::Div(hn::Set(d, 1.0), hn::Mul(g.xc, g.xc));
      const V a_minus = hn::MulAdd(hn::Mul(MillsSeries(d, inv_x2), inv_x2),
                                   g.xc, hn::Neg(g.xc));
      const V k = hn::Mul(a_minus, hn::Set(d, -kInvSqrt2Pi));
      const V tail = hn::Mul(g.TimesE(k, hn::Zero(d)), g.unscale);
      return hn::IfThenElse(g.tail, tail, hn::IfThenElse(windows, poly, dy));
    }
  }
  ACTSERVE_BACKWARD_FROM_DERIVATIVE

  // Float64 lanes where y' is subnormal (x < -37.5): y' = k exp(-x^2 / 2)
  // with k = -(|x| - S / |x|) / sqrt(2 pi) as in Derivative's tail, and
  // exp(-(s + sl) / 2)'s 2^q folded into g k 2^-5 (|k| < 2^5 wherever the
  // result is not 0: x > -54.1, so x is clamped at -60).
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D> &) const {
    const V xc = hn::Max(x, hn::Set(d, -60.0));
    const V s = hn::Mul(xc, xc);
    const V half_neg = hn::Set(d, -0.5);
    const V inv_x2 = hn::Div(hn::Set(d, 1.0), s);
    const V a_minus =
        hn::MulAdd(hn::Mul(MillsSeries(d, inv_x2), inv_x2), xc, hn::Neg(xc));
    const V k = hn::Mul(a_minus, hn::Set(d, -kInvSqrt2Pi / 32));
    return GTimesExpTail(d, hn::Mul(g, k), hn::Mul(s, half_neg), 5,
                         hn::Mul(ProductError(d, xc, xc, s), half_neg));
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(GeluOp)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "core/kernels/elementwise_export.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(nullptr, nullptr)

// 1/sqrt(2) = kInvSqrt2Hi + kInvSqrt2Lo in long doubles.
constexpr long double kInvSqrt2Hi = 0.70710678118654752440084436210484904L;
constexpr long double kInvSqrt2Lo = 1.895032558893257079655e-20L;
constexpr long double kTwoOverSqrtPiL = 1.12837916709551257389615890312154517L;
constexpr long double kInvSqrt2PiL = 0.398942280401432677939946059934381868L;

// erfc(-x / sqrt2) and exp(-x^2 / 2) in x87 long double. Both amplify a
// relative error of their argument by up to x^2 ~ 1500, more than the 11 bits
// long double has over float64, so the arguments are carried in two parts
// and corrected to first order, as in the kernel.
struct GeluReference {
  explicit GeluReference(long double x) {
    const long double t = -x * kInvSqrt2Hi;
    const long double tl = std::fma(-x, kInvSqrt2Hi, -t) - x * kInvSqrt2Lo;
    const long double s = x * x;
    const long double sl = std::fma(x, x, -s);
    exp_half_sq = std::exp(-s / 2) * (1 - sl / 2);
    phi = std::erfc(t) - tl * kTwoOverSqrtPiL * exp_half_sq;
  }
  long double exp_half_sq;
  long double phi;  // 2 Phi(x)
};

long double RefForward(long double x, const KernelParams &) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  return x * GeluReference(x).phi / 2;
}
// Phi + x phi cancels near x0 = -0.7518: within 0.01 of it the tests accept
// an absolute error instead.
long double RefDerivative(long double x, const KernelParams &) {
  if (std::isinf(x)) return x > 0 ? 1 : 0;
  const GeluReference r(x);
  return r.phi / 2 + x * kInvSqrt2PiL * r.exp_half_sq;
}

}  // namespace

const ActivationDef &GeluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef *const def = new ActivationDef{
      .name = "gelu",
      .kind = ActivationKind::kElementwise,
      .formula = "x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))",
      .derivative_formula = "Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi)",
      .description =
          "Gaussian error linear unit (exact, with erf; PyTorch "
          "approximate='none').",
      // Measured max, every target. float32 (AVX3/AVX2; 2M-4M points in each
      // of [-3, 3], [-2.5, -1.5], [-1.2, -0.3], [-0.05, 0.2], [-12.5, -3],
      // [3, 14], 3M over the whole range, and this test's sweep): forward
      // 2.85, derivative 1.88, backward 2.75 ULP (SSE4/SSSE3/scalar compute
      // float32 in float64 lanes: 0.5). float64 (6M points, dense [-3, 0] and
      // the whole range): 2.44, 2.95, 3.60 (backward worst without FMA).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.19, derivative
      // 1.88, backward 2.61 ULP in float32 and 2.23, 4.00, 3.52 in float64
      // outside the root windows.
      .accuracy = {.ulp_f32 = 3.5,
                   .ulp_f64 = 4,
                   .abs_error_windows = {{Mode::kDerivative, DType::kFloat64,
                                          -0.75179152469356446, 0.00027,
                                          1.1e-19},
                                         {Mode::kBackward, DType::kFloat64,
                                          -0.75179152469356446, 0.00033,
                                          1.1e-19}}},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      .special_values =
          {{0.0, 0.0, 0.5},
           {-0.0, -0.0, 0.5},
           {kInf, kInf, 1},
           {-kInf, 0, 0.0},
           {kNaN, kNaN, kNaN},
           // Expected values from mpmath (40 digits).
           {1, 0.84134474606854295, 1.0833154705876863},
           {-1, -0.15865525393145705, -0.083315470587686298},
           {-0.5, -0.15426876936299345, 0.13250487534383716},
           {3, 2.9959503059051097, 1.0119456472041839},
           {-3, -0.0040496940948902836, -0.011945647204183927},
           // The seed and PyTorch give 0 here.
           {-10, -7.6198530241605261e-23, -7.6184000964648141e-22},
           {-13, -7.9523137194148436e-38, -1.0337304440113356e-36},
           {-20, -5.5072482372124674e-88, -1.1014360483133464e-86},
           {-38, -1.096462776826138e-314, -4.1665545692687845e-313},
           {1e-3, 0.00050039894221391106, 0.5007978842948414},
           {100, 100, 1},
           {-100, 0, 0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
