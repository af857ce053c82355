// gelu_tanh (PyTorch's approximate='tanh'), u = sqrt(2/pi) (x + 0.044715 x^3):
//   y  = x (1 + tanh(u)) / 2 = x sigmoid(z),  z = 2u,
//   y' = sigmoid(z) (1 + t (1 - sigmoid(z))),  t = x dz/dx,
// with z = x (c1 + c3 x^2) and t = x (c1 + 3 c3 x^2), c1 = 2 sqrt(2/pi),
// c3 = 0.044715 c1.
//
// The seed's 0.5 x (1 + tanh(u)) cancels for x < 0 (gelu_tanh(-10) =
// -1.2e-37 comes out 0). As x sigmoid(z) nothing cancels. exp amplifies an
// absolute error of z by |z| (up to 104 in float32), and y' = (1 + E (1 +
// t)) / (1 + E)^2, E = exp(-z), cancels around its root x0 = -0.75246.
//
// float32: evaluated in float64 lanes, where every rounding is 2^-53, so
// float32-grade approximations suffice and need no compensation: z (x^2 is
// exact), E = 2^(-z log2(e)) (within 2^-28.5: a 16-entry table and a cubic on
// AVX-512, a degree-6 polynomial elsewhere), y = x / (1 + E) and y' = (1 +
// E (1 + t)) / (1 + E)^2. E may exceed 1, which keeps one formula for both
// signs, free of selects; next to the root the absolute error of 1 + E (1 +
// t) is E's own, about 2^-28. y' divides by (1 + E)^2 in float64 and rounds
// about once. The forward rounds 1 + E to float32 and divides there, twice
// the lanes per division, 1.5 ULP in all; 1 + E overflows float32 for x <
// -10, so NeedsWide sends those rare lanes to the float64 kernel. x beyond
// 12, where 1 + E rounds to 1, is clamped. The loops are bound by the FMA
// pipes: divisions (a separate unit) beat a reciprocal estimate and Newton
// step here.
//
// float64: in the lane type, through core/kernels/swish-inl.h's gate (E' =
// exp(-|z|) <= 1, z = 2u), z carried to twice the precision: x^2 and the
// products by c1, c3 with their exact rounding errors (product_error-inl.h,
// sum_error-inl.h), c1 and c3 themselves in two parts. For x < 0 the
// numerator 1 + E' + t (E' = exp(z)) is summed from t and 1 + E', each to
// twice the precision, so only E''s own error (under 1 ULP) is amplified, by
// E' / |1 + E' + t|: the absolute error stays under 2e-17 next to the root.
// Numerator, denominator and quotient are carried as in swish. |x| > 40: z
// is computed from x clamped to 40 (the gate is 0 or 1 there), so x^3 never
// overflows. Then y = x or -0, y' = 1 or -0.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/gelu_tanh.cc"
// clang-format off: foreach_target.h re-includes this file once per target and
// must come before everything else.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include <cstdint>

#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/float64_halves-inl.h"
#include "core/kernels/product_error-inl.h"
#include "core/kernels/sum_error-inl.h"
#include "core/kernels/swish-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

// A float64 constant as hi + lo (mpmath, 40 digits).
template <class D, class V = hn::Vec<D>>
struct SplitConstant {
  static_assert(sizeof(hn::TFromD<D>) == 8, "the float64 path's");
  SplitConstant(D d, double hi_value, double lo_value)
      : hi(hn::Set(d, hi_value)), lo(hn::Set(d, lo_value)) {}
  V hi, lo;
};

// c1 = 2 sqrt(2 / pi), c3 = 0.044715 c1.
template <class D>
SplitConstant<D> C1(D d) {
  return {d, 1.5957691216057308, -9.9693088091109203146e-17};
}
template <class D>
SplitConstant<D> C3(D d) {
  return {d, 0.07135481627260025, -6.1751499181553154534e-19};
}
template <class D>
SplitConstant<D> ThreeC3(D d) {
  return {d, 0.21406444881780073, 1.2025242832367862119e-17};
}

// a + b s for s = s_hi + s_lo >= 0 and a, b > 0, as hi + lo.
template <class D, class V = hn::Vec<D>>
HWY_INLINE void EvenPoly(D d, const SplitConstant<D>& a,
                         const SplitConstant<D>& b, V s_hi, V s_lo, V& hi,
                         V& lo) {
  const V bs = hn::Mul(b.hi, s_hi);
  const V bs_lo = hn::MulAdd(
      b.lo, s_hi, hn::MulAdd(b.hi, s_lo, ProductError(d, b.hi, s_hi, bs)));
  hi = hn::Add(a.hi, bs);
  lo = hn::Add(FastSumError(hn::Max(a.hi, bs), hn::Min(a.hi, bs), hi),
               hn::Add(a.lo, bs_lo));
}

// x clamped, x^2 = s + s_lo, and z = x (c1 + c3 x^2) = z + z_lo.
template <class D, class V = hn::Vec<D>>
struct GeluTanhParts {
  GeluTanhParts(D d, V x) {
    using T = hn::TFromD<D>;
    const V limit = hn::Set(d, T{40});
    xc = hn::Min(hn::Max(x, hn::Neg(limit)), limit);
    s = hn::Mul(xc, xc);
    s_lo = ProductError(d, xc, xc, s);
    V m, m_lo;
    EvenPoly(d, C1(d), C3(d), s, s_lo, m, m_lo);
    z = hn::Mul(xc, m);
    z_lo = hn::MulAdd(xc, m_lo, ProductError(d, xc, m, z));
  }
  V xc, s, s_lo, z, z_lo;
};

// Float32 lanes: float64 lanes with float32-grade approximations.

// 2^(b / 16) within 2^-28.5, for |b| <= 16000 (a normal result; the callers
// pass |b| < 3300).
//
// Portable: a = b / 16 = k + f, k = round(a), |f| <= 1/2, 2^f a degree-6
// polynomial (Chebyshev interpolant on [-1/2, 1/2], relative error 2^-28.5).
template <class DW, class VW = hn::Vec<DW>>
HWY_INLINE VW Exp2Sixteenths(DW dw, VW b) {
  const VW a = hn::Mul(b, hn::Set(dw, 1.0 / 16));
  // 1.5 * 2^52 + 1023: adding it rounds a to an integer k and leaves k + 1023,
  // the biased exponent of 2^k, in the low bits of the significand.
  const VW shifter = hn::Set(dw, 0x1.8p52 + 1023);
  const VW biased = hn::Add(a, shifter);
  const VW f = hn::Sub(a, hn::Sub(biased, shifter));
  VW p = hn::Set(dw, 0.00015461444698569338);
  for (double c :
       {0.001340042817761594, 0.0096180566785246373, 0.05550327226670302,
        0.24022650922288757, 0.69314720670283259, 1.0}) {
    p = hn::MulAdd(p, f, hn::Set(dw, c));
  }
  const hn::RebindToUnsigned<DW> du;
  return hn::Mul(p,
                 hn::BitCast(dw, hn::ShiftLeft<52>(hn::BitCast(du, biased))));
}
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// AVX-512: j = round(b), g = b - j in [-1/2, 1/2],
//   2^(b/16) = 2^floor(j/16) 2^((j mod 16)/16) 2^(g/16),
// the middle factor from a 16-entry table (one vpermt2pd), 2^(g/16) a cubic
// (Chebyshev interpolant, relative error 2^-29.7): three FMAs where the
// degree-6 polynomial takes six, on the FMA pipes that bound these loops.
template <class DW>
HWY_INLINE hn::Vec512<double> Exp2Sixteenths(DW dw, hn::Vec512<double> b) {
  using VW = hn::Vec512<double>;
  // The bits of 2^(i/16) minus i << 48: adding j << 48 then gives those of
  // 2^(i/16) 2^floor(j/16) for i = j mod 16.
  HWY_ALIGN static constexpr uint64_t kTable[16] = {
      0x3ff0000000000000ull, 0x3fefb5586cf9890full, 0x3fef72b83c7d517bull,
      0x3fef387a6e756238ull, 0x3fef06fe0a31b715ull, 0x3feedea64c123422ull,
      0x3feebfdad5362a27ull, 0x3feeab07dd485429ull, 0x3feea09e667f3bcdull,
      0x3feea11473eb0187ull, 0x3feeace5422aa0dbull, 0x3feec49182a3f090ull,
      0x3feee89f995ad3adull, 0x3fef199bdd85529cull, 0x3fef5818dcfba487ull,
      0x3fefa4afa2a490daull};
  // vreducepd: g = b - round(b), to nearest even as the addition below.
  const VW g{_mm512_reduce_pd(b.raw, 0)};
  const VW q =
      hn::MulAdd(hn::MulAdd(hn::MulAdd(hn::Set(dw, 1.3551125679403692e-05), g,
                                       hn::Set(dw, 0.00093842148356189619)),
                            g, hn::Set(dw, 0.043321698775062194)),
                 g, hn::Set(dw, 0.99999999885341173));
  // Adding 1.5 * 2^52 leaves 2^51 + j in the significand bits; the low 4
  // index the table (vpermt2pd reads only those).
  const __m512i j = _mm512_castpd_si512(hn::Add(b, hn::Set(dw, 0x1.8p52)).raw);
  const hn::RebindToUnsigned<DW> du;
  const auto t = hn::Vec512<uint64_t>{_mm512_permutex2var_epi64(
      hn::Load(du, kTable).raw, j, hn::Load(du, kTable + 8).raw)};
  const auto scaled_t = hn::Add(t, hn::ShiftLeft<48>(hn::Vec512<uint64_t>{j}));
  return hn::Mul(q, hn::BitCast(dw, scaled_t));
}
#endif

// Float64 constants of the float32 path: c1, c3 = 0.044715 c1 and log2(e).
constexpr double kC1Wide = 1.5957691216057308;
constexpr double kC3Wide = 0.07135481627260025;
constexpr double kLog2EWide = 1.4426950408889634;

// E = exp(-z) = 2^(-z log2(e)) for float64 lanes x in [-10, 12], where E is
// in [1.6e-62, 8.4e37].
template <class DW, class VW = hn::Vec<DW>>
HWY_INLINE VW ExpMinusZWide(DW dw, VW x, VW s) {
  const VW minus_z_log2e_16 =
      hn::Mul(x, hn::MulAdd(hn::Set(dw, -16 * kC3Wide * kLog2EWide), s,
                            hn::Set(dw, -16 * kC1Wide * kLog2EWide)));
  return Exp2Sixteenths(dw, minus_z_log2e_16);
}

// y' = (1 + E (1 + t)) / (1 + E)^2 times g for float64 lanes x in [-10, 12].
template <class DW, class VW = hn::Vec<DW>>
HWY_INLINE VW GradientWide(DW dw, VW x, VW g) {
  const VW one = hn::Set(dw, 1.0);
  const VW s = hn::Mul(x, x);
  const VW e = ExpMinusZWide(dw, x, s);
  const VW den = hn::Add(one, e);
  const VW one_plus_t = hn::MulAdd(
      x, hn::MulAdd(hn::Set(dw, 3 * kC3Wide), s, hn::Set(dw, kC1Wide)), one);
  const VW num = hn::MulAdd(e, one_plus_t, one);
  return hn::Div(hn::Mul(g, num), hn::Mul(den, den));
}

struct GeluTanhOp {
  // Float32 lanes x < -10 (and -inf): 1 + E overflows float32 there, and y
  // gets subnormal, so the forward's float32 division cannot serve them
  // (the float64 y' would; the check is per Op).
  template <class D, class V = hn::Vec<D>>
  hn::Mask<D> NeedsWide(D d, V x, const VecParams<D>&) const {
    return hn::Lt(x, hn::Set(d, hn::TFromD<D>{-10}));
  }

  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>&) const {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
      // 1 + E < 8.4e37 for x >= -10; rounding it to float32 costs half an
      // ULP and doubles the lanes of the division.
      const V den =
          OnFloat64Halves(d, ClampWide(d, x), x, [](auto dw, auto xw, auto) {
            return hn::Add(hn::Set(dw, 1.0),
                           ExpMinusZWide(dw, xw, hn::Mul(xw, xw)));
          });
      return hn::Div(x, den);
    } else {
      const GeluTanhParts<D> s(d, x);
      return SigmoidGate<D>(d, s.z, s.z_lo).XSigmoid(x);
    }
  }

  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
      return OnFloat64Halves(d, ClampWide(d, x), x, [](auto dw, auto xw, auto) {
        return GradientWide(dw, xw, hn::Set(dw, 1.0));
      });
    } else {
      const SplitQuotient<V> y = SplitDerivative(d, x, p);
      return hn::Add(y.q, y.correction);
    }
  }

  template <class D, class V = hn::Vec<D>>
  V Backward(D d, V x, V g, const VecParams<D>& p) const {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
      return OnFloat64Halves(
          d, ClampWide(d, x), g,
          [](auto dw, auto xw, auto gw) { return GradientWide(dw, xw, gw); });
    } else {
      return TimesSplitQuotient(d, g, SplitDerivative(d, x, p));
    }
  }

  // Float64 lanes where y' is subnormal (x < -21): 1 + E rounds to E there,
  // y' = (1 + t) / E = (1 + t) exp(z), t = x z'. exp(z + z_lo)'s 2^q is
  // folded into g (1 + t) 2^-13 (|1 + t| < 2^13 wherever the result is not
  // 0: z > -1460).
  template <class D, class V = hn::Vec<D>>
  V TailBackward(D d, V x, V g, const VecParams<D>&) const {
    const GeluTanhParts<D> s(d, x);
    V m, m_lo;
    EvenPoly(d, C1(d), ThreeC3(d), s.s, s.s_lo, m, m_lo);
    const V t = hn::Mul(s.xc, m);
    const V t_lo = hn::MulAdd(s.xc, m_lo, ProductError(d, s.xc, m, t));
    const V one = hn::Set(d, 1.0);
    const V one_plus_t = hn::Add(hn::Add(t, one), t_lo);
    return GTimesExpTail(d,
                         hn::Mul(g, hn::Mul(one_plus_t, hn::Set(d, 0x1p-13))),
                         s.z, 13, s.z_lo);
  }

 private:
  // Beyond 12 1 + E rounds to 1 and y' to 1 in float32; the clamp keeps E
  // and t in range for huge and infinite x. Lanes below -10 are recomputed
  // (NeedsWide).
  template <class D, class V = hn::Vec<D>>
  static V ClampWide(D d, V x) {
    return hn::Min(x, hn::Set(d, 12.0f));
  }

  // Float64 lanes: f' as q + correction (see SigmoidGate::Derivative).
  template <class D, class V = hn::Vec<D>>
  SplitQuotient<V> SplitDerivative(D d, V x, const VecParams<D>&) const {
    const GeluTanhParts<D> s(d, x);
    const SigmoidGate<D> gate(d, s.z, s.z_lo);
    V w, w_lo;
    EvenPoly(d, C1(d), ThreeC3(d), s.s, s.s_lo, w, w_lo);
    const V t = hn::Mul(s.xc, w);
    const V t_lo = hn::MulAdd(s.xc, w_lo, ProductError(d, s.xc, w, t));
    const V sum = hn::Add(gate.one_plus_e, t);
    const V sum_lo = hn::Add(SumError(gate.one_plus_e, t, sum),
                             hn::Add(gate.one_plus_e_low, t_lo));
    return gate.Derivative(d, t, sum, sum_lo);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(GeluTanhOp)

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

constexpr long double kC1 = 1.59576912160573071175978423973752747L;
constexpr long double kC3 = 0.071354816272600248776338752279863541L;

// x sigmoid(z) with e = exp(-|z|): no cancellation, no overflow (x^3 fits a
// long double for every double x).
long double RefForward(long double x, const KernelParams&) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  const long double z = x * (kC1 + kC3 * x * x);
  const long double e = std::exp(-std::fabs(z));
  return z >= 0 ? x / (1 + e) : x * e / (1 + e);
}
long double RefDerivative(long double x, const KernelParams&) {
  if (std::isinf(x)) return x > 0 ? 1 : 0;
  const long double z = x * (kC1 + kC3 * x * x);
  const long double t = x * (kC1 + 3 * kC3 * x * x);
  const long double e = std::exp(-std::fabs(z));
  const long double d = (1 + e) * (1 + e);
  return z >= 0 ? (1 + e * (1 + t)) / d : e * (1 + e + t) / d;
}

}  // namespace

const ActivationDef& GeluTanhActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  static const ActivationDef* const def = new ActivationDef{
      .name = "gelu_tanh",
      .kind = ActivationKind::kElementwise,
      .formula = "0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))",
      .derivative_formula =
          "0.5 * (1 + tanh(u)) + 0.5 * x * (1 - tanh(u)^2) * sqrt(2 / pi) * "
          "(1 + 3 * 0.044715 * x^2), u = sqrt(2 / pi) * (x + 0.044715 * x^3)",
      .description =
          "GELU with PyTorch's tanh approximation "
          "(approximate='tanh').",
      // Measured max over 2M points in each of [-1e4, 1e4], [-3, 3],
      // [-12, -8], [-10.5, -9.5], [-0.9, -0.6] and the whole range, every
      // target: float32 forward 1.48, derivative 0.57, backward 0.60 ULP;
      // float64 3.05, 2.45, 2.4 ULP (SSE4, no FMA).
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 1.41, derivative
      // 1.47, backward 1.60 ULP in float32 and 2.32, 3.29, 2.69 in float64
      // outside the root windows.
      .accuracy =
          {.ulp_f32 = 2,
           .ulp_f64 = 4,
           .abs_error_windows = {{Mode::kDerivative, DType::kFloat32,
                                  -0.75246142207101626, 0.00043, 2.5e-11},
                                 {Mode::kBackward, DType::kFloat32,
                                  -0.75246142207101626, 0.00047, 2.6e-11},
                                 {Mode::kDerivative, DType::kFloat64,
                                  -0.75246142207101626, 0.014, 3.8e-18},
                                 {Mode::kBackward, DType::kFloat64,
                                  -0.75246142207101626, 0.018, 4.2e-18}}},
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (60 digits, x sigmoid(2u) form).
      .special_values = {{0.0, 0.0, 0.5},
                         {-0.0, -0.0, 0.5},
                         {kInf, kInf, 1},
                         {-kInf, 0, 0},
                         {kNaN, kNaN, kNaN},
                         {1, 0.8411919906082767, 1.0829640838457826},
                         {-1, -0.1588080093917233, -0.08296408384578255},
                         {0.5, 0.34571400982514394, 0.8673699035346423},
                         {-0.5, -0.15428599017485609, 0.1326300964653577},
                         {3, 2.996362607918227, 1.0115841666309697},
                         {-3, -0.003637392081773019, -0.011584166630969726},
                         {-5, -2.291796196629506e-07, -1.5463619875325946e-06},
                         {5, 4.999999770820381, 1.0000015463619876},
                         // The seed gives 0 here.
                         {-10, -1.204092348209806e-37, -2.7576380638540315e-36},
                         {-20, -3.3754509563109673e-261,
                          -2.9424328724945027e-259},
                         // x^3 overflows float32 here.
                         {7e12, 7e12, 1},
                         {-7e12, -0.0, -0.0},
                         {1e30, 1e30, 1},
                         {-1e30, -0.0, -0.0}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
