// mish: y = x tanh(softplus(x)) = x tanh(log(1 + exp(x))),
//       y' = tanh(sp) + x sech^2(sp) sigmoid(x), sp = softplus(x).
//
// The seed's composition overflows exp(x) for large x and rounds
// log(1 + exp(x)) to 0 (so y to 0) long before y underflows for x < 0. With
// tanh(log(1 + E)) = n / (n + 2), n = E (E + 2), E = exp(x), and e =
// exp(-|x|) <= 1 (so nothing overflows), D- = e^2 + 2e + 2 and
// D+ = 1 + 2e + 2e^2:
//   x < 0:   y = x e (e + 2) / D-,   y' = e B / D-^2,
//            B = 4 (1 + e)(1 + x) + e (e^2 + 4e + 2)
//   x >= 0:  y = x (1 + 2e) / D+,
//            y' = ((1 + 2e) D+ + 4 x e^2 (1 + e)) / D+^2
// (for x >= 0 numerator and denominator multiplied by e^2 resp. e^4).
// Forward: y = x e (1 - w) (x < 0) or x (1 - w), w = e (1 + e) / D- resp.
// 2e^2 / D+ <= 0.4, so w's few roundings are damped and the rest rounds
// once: with e 2^64 = S (1 + p) unrounded (S a power of two),
// x e (1 - w) 2^64 = S x (1 + c), c = p - w (1 + p), so x e rounds once even
// where e is subnormal. Forward is computed in the lane type.
//
// Float32 derivative: in float64 lanes, where nothing overflows for x in
// [-260, 30] (beyond, the float32 result is that of the clamp), with
// E = exp(x) and m = n + 2 = E^2 + 2E + 2 directly:
//   y' = (n m + 4 x E (1 + E)) / m^2,
// E from a float32-grade polynomial (relative error 2^-34). The numerator
// cancels near the root of y', x0 = -1.19243, but every float64 rounding is
// 2^-53 and E's error moves y' by at most 2e-11 in absolute terms, so y'
// rounds once to float32 (within 0.51 ULP); backward multiplies by g in
// float64 too, so g y' also rounds once. One float64 division per 8 lanes costs
// less than an estimate and Newton step: these kernels are bound by the FMA/add
// pipes, not the divider.
//
// Float64 derivative: e is the swish gate's scaled exp split
// (core/kernels/swish-inl.h); numerator and denominator of the x < 0 / x >= 0
// forms above are carried to about twice the precision (exact product and sum
// errors) and the quotient is corrected by its residual (DivideSplit), so it
// rounds about once. B's two terms cancel only around x0; on [-1.75, -0.95]
// y' is instead (x - x0) P(x - x0) (x0 in two parts, so x - x0 is exact), P a
// relative least-squares fit on Chebyshev nodes (error 1.4e-18, evaluation
// condition 2.4). Beyond |x| = 1000, e = 0: x is clamped there so no term
// overflows.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/mish.cc"
// clang-format off: foreach_target.h re-includes this file once per target and
// must come before everything else.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include <cstddef>
#include <cstdint>
#include <limits>

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/float64_halves-inl.h"
#include "core/kernels/product_error-inl.h"
#include "core/kernels/sum_error-inl.h"
#include "core/kernels/swish-inl.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

// Float64 y' / (x - x0) on [-1.75, -0.95] in h = x - x0, lowest order first.
constexpr double kRootPolyF64[] = {
    0.266947914049534511628,      0.204731264080105864213,
    0.0419078210436095719647,     -0.0202718227166842149778,
    -0.0158211265616857846652,    -0.00336068492692026980588,
    0.00109240553828305373253,    0.000989818091761995478421,
    0.000254129420790706681125,   -0.0000419611331371478955578,
    -0.0000558290331147855266284, -0.0000173041684759532256671,
    9.32395719218649749696e-7,    0.00000292025204031144539566,
    0.00000115530032145152649816, 1.81757875748721748633e-7};

template <class D, class V = hn::Vec<D>, typename T, size_t kN>
HWY_INLINE V Horner(D d, V h, const T (&c)[kN]) {
  V r = hn::Set(d, c[kN - 1]);
  for (size_t i = kN - 1; i > 0; --i) {
    r = hn::MulAdd(r, h, hn::Set(d, c[i - 1]));
  }
  return r;
}

// Forward's e = exp(-|x|): p = expm1 of the reduced argument, S = 2^(q + 64),
// e = S (1 + p) 2^-64 rounded. Below lo (-120 float, -752 double) x and the
// exp argument are clamped: S x then rounds to 0 after unscaling, as y does.
template <class D, class V = hn::Vec<D>>
struct MishExp {
  using T = hn::TFromD<D>;
  MishExp(D d, V x) {
    constexpr bool kF32 = sizeof(T) == 4;
    hn::impl::ExpImpl<T> impl;
    const V lo = hn::Set(d, static_cast<T>(kF32 ? -120 : -752));
    negative = hn::Lt(x, hn::Zero(d));
    xc = hn::Max(x, lo);
    const V a = hn::Max(hn::Neg(hn::Abs(x)), lo);
    const V inv_ln2 = hn::Set(d, static_cast<T>(1.442695040888963407359924681));
    // q = round(a / ln 2) for a <= 0; q + 64 stays a normal exponent.
    const auto q = impl.ToInt32(
        d, hn::MulSub(a, inv_ln2, hn::Set(d, static_cast<T>(0.5))));
    const hn::Rebind<int32_t, D> di32;
    scale = impl.Pow2I(d, hn::Add(q, hn::Set(di32, 64)));
    p = impl.ExpPoly(d, impl.ExpReduce(d, a, q));
    e = hn::Mul(hn::MulAdd(scale, p, scale),
                hn::Set(d, static_cast<T>(0x1p-64)));
    // The x < 0 result carries 2^64; multiplying by this drops it.
    unscale = hn::IfThenElse(negative, hn::Set(d, static_cast<T>(0x1p-64)),
                             hn::Set(d, T{1}));
    // D- = (e + 2) e + 2, D+ = 2e^2 + (1 + 2e).
    const V one = hn::Set(d, T{1});
    const V two = hn::Set(d, T{2});
    const V v = hn::MulAdd(hn::IfThenElse(negative, one, two), e,
                           hn::IfThenElse(negative, two, one));
    den = hn::MulAdd(hn::IfThenElse(negative, v, hn::Add(e, e)), e,
                     hn::IfThenElse(negative, two, v));
  }
  V xc, scale, p, e, unscale, den;
  hn::Mask<D> negative;
};

// Float64 derivative: e = exp(-|x|) for x clamped to +-1000 (beyond, e = 0
// and y' is its limit; the clamp keeps x (e + 2), 4 (1 + e)(1 + x) and x e^2
// finite), and the polynomials in e of both branches, each as hi + low.
template <class D, class V = hn::Vec<D>>
struct MishParts {
  using T = hn::TFromD<D>;
  MishParts(D d, V x)
      : xc(hn::Min(hn::Max(x, hn::Set(d, T{-1000})), hn::Set(d, T{1000}))),
        g(d, xc, hn::Zero(d)) {
    const V two = hn::Set(d, T{2});
    const V e = g.e;
    // x < 0: e^2 + 2e + 2 = e (e + 2) + 2.
    e_plus_2 = hn::Add(e, two);
    e_plus_2_low = hn::Add(FastSumError(two, e, e_plus_2), g.e_low);
    const V m = hn::Mul(e, e_plus_2);
    const V m_low = hn::MulAdd(
        e, e_plus_2_low,
        hn::MulAdd(g.e_low, e_plus_2, ProductError(d, e, e_plus_2, m)));
    den_neg = hn::Add(m, two);
    den_neg_low = hn::Add(FastSumError(two, m, den_neg), m_low);
    // x >= 0: 1 + 2e and 1 + 2e + 2e^2 = 1 + 2e (1 + e).
    const V two_e = hn::Add(e, e);
    const V two_e_low = hn::Add(g.e_low, g.e_low);
    one_plus_2e = hn::Add(g.one, two_e);
    one_plus_2e_low =
        hn::Add(FastSumError(g.one, two_e, one_plus_2e), two_e_low);
    const V u = hn::Mul(two_e, g.one_plus_e);
    const V u_low =
        hn::MulAdd(two_e, g.one_plus_e_low,
                   hn::MulAdd(two_e_low, g.one_plus_e,
                              ProductError(d, two_e, g.one_plus_e, u)));
    den_pos = hn::Add(g.one, u);
    den_pos_low = hn::Add(SumError(g.one, u, den_pos), u_low);
  }
  V xc;
  SigmoidGate<D> g;
  V e_plus_2, e_plus_2_low, den_neg, den_neg_low, one_plus_2e, one_plus_2e_low,
      den_pos, den_pos_low;
};

// exp(x) for x in [-260, 30], relative error 2^-34: x = k ln2 + r, |r| <=
// ln2/2, exp(r) a degree-7 near-minimax polynomial (Chebyshev fit), 2^k added
// to the exponent bits (exp(x) is normal).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ExpF32Grade(D d, V x) {
  const V shifter = hn::Set(d, 0x1.8p52);
  const V kd = hn::MulAdd(x, hn::Set(d, 1.4426950408889634), shifter);
  const V k = hn::Sub(kd, shifter);
  const V r = hn::NegMulAdd(k, hn::Set(d, 0.6931471805599453), x);
  V p = hn::Set(d, 0.0001990890397190586);
  p = hn::MulAdd(p, r, hn::Set(d, 0.0013949780330796578));
  p = hn::MulAdd(p, r, hn::Set(d, 0.008333281514799859));
  p = hn::MulAdd(p, r, hn::Set(d, 0.04166620009206286));
  p = hn::MulAdd(p, r, hn::Set(d, 0.16666666793674462));
  p = hn::MulAdd(p, r, hn::Set(d, 0.5000000114362718));
  p = hn::MulAdd(p, r, hn::Set(d, 0.9999999999951367));
  p = hn::MulAdd(p, r, hn::Set(d, 0.9999999999562088));
  // kd's low mantissa bits hold k; shifted up they are k in the exponent
  // field (the shifter's own bits shift out).
  const hn::RebindToSigned<D> di;
  return hn::BitCast(
      d, hn::Add(hn::BitCast(di, p), hn::ShiftLeft<52>(hn::BitCast(di, kd))));
}

// Float32 y' in float64 lanes: with E = exp(x), n = E (E + 2), m = n + 2,
//   y' = (n m + 4 x E (1 + E)) / m^2,
// which is finite for x in [-260, 30] (beyond, the float32 result is that of
// the clamp: 1, or -0 from a product below half the smallest subnormal).
// The numerator cancels near x0, but every float64 rounding is 2^-53 and E's
// error of 2^-34 moves y' by at most 2e-11 (0.004 ULP at 0.05 from the root,
// the worst place): y' rounds once to float32 with an error below 0.51 ULP.
template <class DW, class VW = hn::Vec<DW>>
HWY_INLINE VW WideDerivative(DW dw, VW x) {
  const VW e = ExpF32Grade(dw, x);
  const VW u = hn::MulAdd(e, e, e);
  const VW n = hn::Add(u, e);
  const VW m = hn::Add(n, hn::Set(dw, 2.0));
  const VW numerator =
      hn::MulAdd(n, m, hn::Mul(hn::Mul(hn::Set(dw, 4.0), x), u));
  return hn::Div(numerator, hn::Mul(m, m));
}

// Float32 y', or g y' if kTimesG: clamped x in float64 lanes, half a vector
// at a time, each result rounded once. Below x = -260, g y' rounds to 0 for
// any finite g.
template <bool kTimesG, class D, class V = hn::Vec<D>>
HWY_INLINE V MishDerivativeF32(D d, V x, V g) {
  const V xc = hn::Min(hn::Max(x, hn::Set(d, -260.0f)), hn::Set(d, 30.0f));
  V y = OnFloat64Halves(d, xc, g, [](auto dw, auto xw, auto gw) {
    const auto yw = WideDerivative(dw, xw);
    return kTimesG ? hn::Mul(gw, yw) : yw;
  });
  if constexpr (kTimesG) {
    // y'(-inf) is 0, not y'(-260): an infinite g gives NaN there, as g * 0.
    y = hn::IfThenElse(
        hn::Eq(x, hn::Set(d, -std::numeric_limits<float>::infinity())),
        hn::Mul(g, hn::Zero(d)), y);
  }
  return y;
}

struct MishOp {
  ACTSERVE_NEVER_WIDE

  // y = x e (1 - w) (x < 0) or x (1 - w), w = e (1 + e) / D resp. 2e^2 / D: w
  // <= 0.4 carries the formula's roundings, the rest rounds once. For x < 0,
  // with e 2^64 = S (1 + p): x e (1 - w) 2^64 = S x (1 + c), c = p - w (1 + p).
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    using T = hn::TFromD<D>;
    const MishExp<D> s(d, x);
    const V e = s.e;
    const V w = hn::Div(
        hn::Mul(e, hn::IfThenElse(s.negative, hn::Add(e, hn::Set(d, T{1})),
                                  hn::Add(e, e))),
        s.den);
    const V c = hn::IfThenElse(s.negative, hn::Sub(s.p, hn::MulAdd(w, s.p, w)),
                               hn::Neg(w));
    const V limit = hn::Set(d, T{1000});
    const V base =
        hn::IfThenElse(s.negative, hn::Mul(s.scale, s.xc), hn::Min(x, limit));
    const V y = hn::Mul(hn::MulAdd(base, c, base), s.unscale);
    // Above the clamp y = x, infinity included.
    return hn::IfThenElse(hn::Gt(x, limit), x, y);
  }

  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>&) const {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
      return MishDerivativeF32<false>(d, x, x);
    } else {
      const SplitQuotient<V> y = SplitDerivative(d, x);
      return hn::Add(y.q, y.correction);
    }
  }

  // Float32: g y' rounds once.
  template <class D, class V = hn::Vec<D>>
  V Backward(D d, V x, V g, const VecParams<D>&) const {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
      return MishDerivativeF32<true>(d, x, g);
    } else {
      return TimesSplitQuotient(d, g, SplitDerivative(d, x));
    }
  }

  // Float64 lanes where y' is subnormal (x < -708): D- rounds to 2 and B to
  // 4 (1 + x) there, y' = (1 + x) exp(x) (1 + x exact), exp's 2^q folded
  // into g (1 + x) 2^-11 (|1 + x| < 2^11 wherever the result is not 0).
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    const V xc = hn::Max(x, hn::Set(d, -1500.0));
    const V one_plus_x = hn::Add(xc, hn::Set(d, 1.0));
    return GTimesExpTail(
        d, hn::Mul(g, hn::Mul(one_plus_x, hn::Set(d, 0x1p-11))), xc, 11);
  }

  // Float64 y' as q + correction.
  template <class D, class V = hn::Vec<D>>
  HWY_INLINE SplitQuotient<V> SplitDerivative(D d, V x) const {
    using T = hn::TFromD<D>;
    const MishParts<D> s(d, x);
    const SigmoidGate<D>& g = s.g;
    const V xc = s.xc;
    const V two = hn::Set(d, T{2});
    const V four = hn::Set(d, T{4});
    const V e = g.e;
    // x < 0: B = 4 (1 + e)(1 + x) + e (e^2 + 4e + 2) as b + b_low, the
    // second term (positive, no cancellation) rounded. 1 + x is exact for
    // x <= -1/2.
    const V one_plus_x = hn::Add(g.one, xc);
    const V one_plus_x_low = FastSumError(g.one, xc, one_plus_x);
    const V four_ope = hn::Mul(four, g.one_plus_e);
    const V p1 = hn::Mul(four_ope, one_plus_x);
    const V p1_low =
        hn::MulAdd(four_ope, one_plus_x_low,
                   hn::MulAdd(hn::Mul(four, g.one_plus_e_low), one_plus_x,
                              ProductError(d, four_ope, one_plus_x, p1)));
    const V p2 = hn::Mul(e, hn::MulAdd(hn::Add(e, four), e, two));
    const V b = hn::Add(p1, p2);
    const V b_low = hn::Add(SumError(p1, p2, b), p1_low);
    V scaled_b, scaled_b_low;
    g.TimesE(d, b, b_low, scaled_b, scaled_b_low);
    // x >= 0: (1 + 2e) den_pos + 4 x e^2 (1 + e), the second term (at most
    // 0.3 of the first) rounded.
    const V p = hn::Mul(s.one_plus_2e, s.den_pos);
    const V p_low =
        hn::MulAdd(s.one_plus_2e, s.den_pos_low,
                   hn::MulAdd(s.one_plus_2e_low, s.den_pos,
                              ProductError(d, s.one_plus_2e, s.den_pos, p)));
    const V tail =
        hn::Mul(hn::Mul(hn::Mul(four, xc), hn::Mul(e, e)), g.one_plus_e);
    const V n_pos = hn::Add(p, tail);
    const V n_pos_low = hn::Add(FastSumError(p, tail, n_pos), p_low);
    const V numerator = hn::IfThenElse(g.negative, scaled_b, n_pos);
    const V numerator_low = hn::IfThenElse(g.negative, scaled_b_low, n_pos_low);
    const V den1 = hn::IfThenElse(g.negative, s.den_neg, s.den_pos);
    const V den1_low = hn::IfThenElse(g.negative, s.den_neg_low, s.den_pos_low);
    const V den = hn::Mul(den1, den1);
    const V den_low = hn::MulAdd(hn::Add(den1, den1), den1_low,
                                 ProductError(d, den1, den1, den));
    SplitQuotient<V> y =
        DivideSplit(d, numerator, numerator_low, den, den_low, g.result_scale);
    // Next to the root: (x - x0) P(x - x0).
    const V x0_hi = hn::Set(d, -1.1924312145154952);
    const V x0_lo = hn::Set(d, -4.8484829848031045549e-17);
    // h = x - x0 = h_hi - x0_lo, h_hi exact (Sterbenz) in the window.
    const V h_hi = hn::Sub(xc, x0_hi);
    const V h = hn::Sub(h_hi, x0_lo);
    const V poly = Horner(d, h, kRootPolyF64);
    const V near = hn::Mul(h_hi, poly);
    const V near_correction =
        hn::NegMulAdd(x0_lo, poly, ProductError(d, h_hi, poly, near));
    const auto in_window =
        hn::And(hn::Ge(x, hn::Set(d, -1.75)), hn::Le(x, hn::Set(d, -0.95)));
    return {hn::IfThenElse(in_window, near, y.q),
            hn::IfThenElse(in_window, near_correction, y.correction)};
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(MishOp)

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

// tanh(log1p(E)) for E = exp(x), and for x > 0 via exp(-x): no overflow.
long double TanhSoftplus(long double x) {
  if (x > 0) {
    const long double e = std::exp(-x);
    return (1 + 2 * e) / (1 + 2 * e + 2 * e * e);
  }
  return std::tanh(std::log1p(std::exp(x)));
}

long double RefForward(long double x, const KernelParams&) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  return x * TanhSoftplus(x);
}

// tanh(sp) + x sech^2(sp) sigmoid(x); for x < 0 the two terms cancel near
// x0, where expm1l keeps sech^2 = 1 - tanh^2 exact enough: the sum's
// relative error is below 2^-60 outside 0.01 of the root.
long double RefDerivative(long double x, const KernelParams&) {
  if (std::isinf(x)) return x > 0 ? 1 : 0;
  const long double t = TanhSoftplus(x);
  const long double e = std::exp(-std::fabs(x));
  const long double sigmoid = x > 0 ? 1 / (1 + e) : e / (1 + e);
  return t + x * (1 - t) * (1 + t) * sigmoid;
}

}  // namespace

const ActivationDef& MishActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "mish",
      .kind = ActivationKind::kElementwise,
      .formula = "x * tanh(log(1 + exp(x)))",
      .derivative_formula =
          "tanh(sp) + x * (1 - tanh(sp)^2) * sigmoid(x), sp = log(1 + exp(x))",
      .description = "Self-regularized non-monotonic activation (Misra 2019).",
      // Measured max over 6M points in [-12, 6], 2M in [-3, 3], [-40, 40]
      // and [-1e4, 1e4] and 2M over the whole range per dtype, every
      // target: float32 forward 2.49 (SSE4), derivative 0.502, backward
      // 0.502 ULP (all targets); float64 forward 2.63, derivative 2.51,
      // backward 3.0 ULP (SSE4).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.32, derivative
      // 2.41, backward 2.86 ULP in float32 and 2.20, 3.50, 2.89 in float64
      // outside the root windows.
      .accuracy = {.ulp_f32 = 3.5,
                   .ulp_f64 = 3.5,
                   .abs_error_windows = {{Mode::kDerivative, DType::kFloat32,
                                          -1.1924312145154952, 5.4e-07, 5e-14},
                                         {Mode::kBackward, DType::kFloat32,
                                          -1.1924312145154952, 7.2e-07, 5e-14},
                                         {Mode::kDerivative, DType::kFloat64,
                                          -1.1924312145154952, 0.0014, 2.1e-19},
                                         {Mode::kBackward, DType::kFloat64,
                                          -1.1924312145154952, 0.0019,
                                          2.6e-19}}},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (60 digits).
      .special_values = {{0.0, 0.0, 0.6},
                         {-0.0, -0.0, 0.6},
                         {kInf, kInf, 1},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN},
                         {1, 0.8650983882673103, 1.0490362200997922},
                         {-1, -0.3034014613741089, 0.05921675587739495},
                         {0.5, 0.37524521130489513, 0.8864243753577272},
                         {-0.5, -0.22074377465173, 0.2895106779135122},
                         {3, 2.9865350049679575, 1.0211069109294437},
                         {-3, -0.14564746127562458, -0.09339311453232084},
                         {-5, -0.033576237730161704, -0.026747498019901932},
                         {5, 4.999552077529406, 1.0008002248320826},
                         {-20, -4.122307240628761e-08, -3.916191874348969e-08},
                         {20, 20.0, 1.0000000000000002},
                         {-88, -5.328049667953043e-37, -5.267503648999031e-37},
                         // The seed gives 0 here.
                         {-100, -3.720075976020836e-42, -3.682875216260628e-42},
                         {-745, -2.105e-321, -2.1e-321},
                         // The seed gives NaN here.
                         {100, 100, 1},
                         {1e30, 1e30, 1},
                         {-1e30, -0.0, -0.0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
