// softmax and log_softmax along an axis, compiled once per SIMD target
// (include from a translation unit that uses hwy/foreach_target.h).
//
// The input is viewed as [outer, K, inner] and every slice along K is one
// vector. Two layouts share one set of loops: with inner == 1 the lanes run
// along the slice (the common [batch, classes] case) and are reduced across
// at the end; with inner > 1 the lanes hold neighbouring slices (contiguous
// vectors over inner, one loop over k) and nothing is reduced across lanes.
// Lanes are assigned by position in the slice only, never by address, so a
// slice gives the same bits wherever it lies; with inner > 1 the float fast
// exponential (UseFastExp) is chosen per group of neighbouring slices, whose
// bits then depend on the group, never on threads or block-aligned splits.
//
// Three passes per slice: the max; the exponentials (stored to a scratch row
// that stays in L1; not for the log_softmax forward) with their sums; the
// outputs, from the stored values or (log_softmax forward) from x.
// Lanes have the output's type (16 float lanes on AVX-512), except in the
// backward (double lanes, see the last point). Why the results stay within a
// few ULP of the exact values, for any slice:
//  * d = x - max is kept exactly as d_hi + d_lo (TwoSum), and the exponential
//    is taken of d_hi + d_lo (ExpOfSum folds d_lo into the reduced
//    argument). Rounding d would shift e^d by up to |d| ulp(d) / 2: 64 float
//    ULP for d near -100, hundreds of double ULP for d near -700. The
//    forwards of float slices with |max| <= 64 (nearly all in practice)
//    need no d: FastExp reduces x itself and scales by a power of two near
//    e^-max (see kFastMax), 7 instructions fewer per vector; the sums in
//    double take the leftover factor out.
//  * The sum of exponentials is S = c + R: c counts the elements equal to the
//    max (each e^0 = 1 exactly) and R sums the others. Float lanes add four
//    vectors (consecutive steps) in float, then sum those in float64: at most
//    2^-23 relative error from the float additions (all terms are positive)
//    and ~K / lanes * 2^-53 from the rest, for any K. Double lanes are summed
//    in compensated sums (TwoSum into a second accumulator), whose error
//    stays ~1 ULP for any K where a plain sum could lose K/2.
//  * Where one element dominates (c = 1), quantities that would cancel are
//    rewritten through R: log S = log1p(R); 1 - y_max = R / S; the backward
//    results of that element, g - sum(g y) and g - p sum(g), use only the
//    other elements' sums, in double. Everywhere else y <= 1/2, so the
//    differences are at least half of their terms.
//  * Per-slice scalars (1 / S, log S) are computed in double and rounded
//    once to the output type.
//  * The backward's gx_j = p_j (g_j - D) (softmax, D = sum(g p)) or
//    g_j - p_j G (log_softmax, G = sum(g)) cancels where g_j is near the
//    slice's weighted mean of g. It runs in double lanes, float data
//    promoted on load: e, 1 / S and p in double, D and G in compensated
//    sums kept as hi + lo to the last step, where the difference with g_j
//    is exact (Sterbenz, or one FMA) and rounds once. What is left is the
//    error of p (e, 1 / S and their product: ~1.6 * 2^-52 relative) and of
//    the products g e (2^-53) times the terms that cancel: a few ULP of the
//    result plus ~2.1 * 2^-52 of sum_i |g_i J[i][j]| (p_j <= 1/2 off the
//    dominant element, so those terms bound the cancelling ones). In ULP of
//    that scale: 8e-9 float (its ULP is >= 2^-24 of it), 4.5 double
//    (>= 2^-53), declared as AccuracyBound::backward_cancel_ulp_*. No fixed
//    precision bounds the relative error alone: with equal g, g_j - D is
//    exactly 0 while D is a rounded sum of exponentials. (In float lanes
//    the float backward lost up to 6.6e4 ULP: e and D rounded to float.)
//    With equal x, p = 1 / c is exact and the result is relatively accurate
//    (8 equal doubles: rounding G to double lost 217,088 ULP).
//  * A slice holding exactly one +inf and no NaN gives the limit as that
//    element grows (LoneInfinity); one holding NaN, several +inf or only
//    -inf is NaN throughout (PyTorch gives NaN for any +inf). -inf entries
//    get y = 0 (log_softmax: -inf) like any tiny exponential.

#if defined(ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
#undef ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/activation_def.h"
#include "core/kernels/exp_scaled-inl.h"
#include "core/kernels/expm1_poly_f32-inl.h"
#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace softmax_internal {

template <typename T>
using DT = hn::ScalableTag<T>;
template <typename T>
using VT = hn::Vec<DT<T>>;
template <typename T>
using MT = hn::Mask<DT<T>>;
template <typename T>
using DI = hn::RebindToSigned<DT<T>>;
template <typename T>
using VI = hn::Vec<DI<T>>;
template <typename T>
using TI = hn::TFromD<DI<T>>;
template <typename T>
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(T);

// ExpOfSum returns e^x * kExpScale: never subnormal, so the callers' one
// multiply by a per-slice kExpScale^-1 / S rounds subnormal results once.
template <typename T>
constexpr int kExpScaleLog2 = sizeof(T) == 4 ? 64 : 512;
template <typename T>
const double kExpScale = std::ldexp(1.0, kExpScaleLog2<T>);

// exp(hi + lo) * kExpScale for hi <= 0 and |lo| <= ulp(hi) / 2; 0 where hi
// is below kExpFloor (where e^hi rounds to 0), -inf or NaN, whatever lo
// holds there. Highway's Exp reduction (hwy/contrib/math) and, for double,
// its polynomial (1 ULP), with four changes for this domain: lo joins the
// reduced argument, q comes from a shifter constant instead of float-int
// conversions, 2^q (1 + expm1(r)) is one FMA, and the result is scaled as
// above.
template <typename T>
HWY_INLINE VT<T> ExpOfSum(VT<T> hi, VT<T> lo) {
  const DT<T> d;
  const DI<T> di;
  constexpr bool kF32 = sizeof(T) == 4;
  constexpr int kMantissa = kF32 ? 23 : 52;
  constexpr TI<T> kBias = kExpScaleLog2<T>;
  constexpr TI<T> kExponentBias = kF32 ? 127 : 1023;
  // e^-104 < 2^-150 and e^-746 < 2^-1075: both round to 0.
  const VT<T> kExpFloor = hn::Set(d, static_cast<T>(kF32 ? -104.0 : -746.0));
  // Adding 1.5 * 2^kMantissa rounds hi / ln 2 to the integer q, which lands
  // in the low mantissa bits.
  const VT<T> shifter = hn::Set(d, static_cast<T>(kF32 ? 0x1.8p23 : 0x1.8p52));
  const VT<T> t = hn::MulAdd(
      hi, hn::Set(d, static_cast<T>(1.442695040888963407359924681)), shifter);
  const VT<T> q = hn::Sub(t, shifter);
  // r = hi - q ln 2 + lo.
  const VT<T> r = hn::Add(MinusQLn2(d, q, hi), lo);
  const VT<T> r2 = hn::Mul(r, r);
  VT<T> poly;
  if constexpr (kF32) {
    poly = Expm1PolyF32(DT<T>(), r);
  } else {
    const VT<T> r4 = hn::Mul(r2, r2);
    const VT<T> r8 = hn::Mul(r4, r4);
    const auto pair = [&](double c1, double c0) {
      return hn::MulAdd(hn::Set(d, c1), r, hn::Set(d, c0));
    };
    const VT<T> p01 = pair(+0.166666666666666851703837, +0.5);
    const VT<T> p23 =
        pair(+0.00833333333331652721664984, +0.0416666666666665047591422);
    const VT<T> p45 =
        pair(+0.000198412698960509205564975, +0.00138888888889774492207962);
    const VT<T> p67 =
        pair(+2.75572362911928827629423e-6, +2.4801587159235472998791e-5);
    const VT<T> p89 =
        pair(+2.51112930892876518610661e-8, +2.75573911234900471893338e-7);
    const VT<T> p8_10 =
        hn::MulAdd(r2, hn::Set(d, +2.08860621107283687536341e-9), p89);
    poly = hn::MulAdd(
        r8, p8_10,
        hn::MulAdd(r4, hn::MulAdd(r2, p67, p45), hn::MulAdd(r2, p23, p01)));
  }
  // expm1(r) = r + r^2 poly.
  const VT<T> expm1_r = hn::MulAdd(poly, r2, r);
  // 2^(q + kBias): (bits of t) << kMantissa is q << kMantissa, the
  // shifter's own bits shift out.
  const VT<T> scale = hn::BitCast(
      d, hn::Add(hn::ShiftLeft<kMantissa>(hn::BitCast(di, t)),
                 hn::Set(di, static_cast<TI<T>>((kExponentBias + kBias)
                                                << kMantissa))));
  return hn::IfThenElseZero(hn::Ge(hi, kExpFloor),
                            hn::MulAdd(expm1_r, scale, scale));
}

// Float slices whose max m has |m| <= kFastMax take e^(x - K ln 2) * 2^64
// (K = round(m / ln 2), per lane) straight from x, which needs no exact
// x - m: the reduction r = x - q ln 2 is Highway's, exact for |q| < 256
// (q ln2_hi exact with 16 + 8 bits, then Sterbenz), and every x that
// contributes (x >= m - 104) has |x| < 177, |q| < 256. The common factor
// e^(m - K ln 2) in [2^-1/2, 2^1/2] cancels in e / S; log S needs it back.
constexpr float kFastMax = 64.0f;

// Per-group constants of the fast exponential.
template <typename T>
struct FastShift {
  explicit FastShift(VT<T> m) {
    const DT<T> d;
    const DI<T> di;
    const VT<T> shifter = hn::Set(d, static_cast<T>(0x1.8p23));
    const VT<T> t =
        hn::MulAdd(m, hn::Set(d, static_cast<T>(1.44269504088896341)), shifter);
    k = hn::Sub(t, shifter);
    // (127 + kExpScaleLog2 - K) << 23, the biased exponent of 2^(64 - K).
    bias = hn::Sub(hn::Set(di, (127 + kExpScaleLog2<T>) << 23),
                   hn::ShiftLeft<23>(hn::BitCast(di, t)));
    floor = hn::Sub(m, hn::Set(d, static_cast<T>(104)));
  }
  VT<T> k;  // K as a float
  VI<T> bias;
  VT<T> floor;  // below it e^(x - m) / S rounds to 0 (e^-104 < 2^-150)
};

// e^(x - K ln 2) * kExpScale for floats x >= f.floor (q - K >= -151 keeps the
// exponent field positive), 0 below (-inf, and garbage lanes, included).
template <typename T>
HWY_INLINE VT<T> FastExp(VT<T> x, const FastShift<T>& f) {
  static_assert(sizeof(T) == 4, "float only");
  const DT<T> d;
  const DI<T> di;
  const VT<T> shifter = hn::Set(d, static_cast<T>(0x1.8p23));
  const VT<T> t =
      hn::MulAdd(x, hn::Set(d, static_cast<T>(1.44269504088896341)), shifter);
  const VT<T> q = hn::Sub(t, shifter);
  const VT<T> r = MinusQLn2(d, q, x);
  const VT<T> expm1_r = hn::MulAdd(Expm1PolyF32(DT<T>(), r), hn::Mul(r, r), r);
  // 2^(q + 64 - K): (bits of t) << 23 is q << 23, the shifter's bits shift out.
  const VT<T> scale =
      hn::BitCast(d, hn::Add(hn::ShiftLeft<23>(hn::BitCast(di, t)), f.bias));
  return hn::IfThenElseZero(hn::Ge(x, f.floor),
                            hn::MulAdd(expm1_r, scale, scale));
}

// hi + lo = a + b exactly (TwoSum).
inline double TwoSum(double a, double b, double* lo) {
  const double s = a + b;
  const double bb = s - a;
  *lo = (a - (s - bb)) + (b - bb);
  return s;
}

template <typename T>
class LaneSum;

// Float lanes summed in float64, per lane.
template <>
class LaneSum<float> {
 public:
  // Not default member initializers: the implicit constructor they would
  // need is compiled without this target's instruction set.
  LaneSum() : lo_(hn::Zero(DW())), hi_(hn::Zero(DW())) {}

  // Four nonnegative vectors: added in float first (two roundings, at most
  // 2^-23 of their sum), which halves the conversions to float64.
  HWY_INLINE void Add4(VT<float> v0, VT<float> v1, VT<float> v2, VT<float> v3) {
    Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)));
  }
  HWY_INLINE void Add(VT<float> v) {
#if HWY_TARGET == HWY_SCALAR
    lo_ = hn::Add(lo_, hn::PromoteTo(DW(), v));
#else
    const hn::Half<DT<float>> dh;
    lo_ = hn::Add(lo_, hn::PromoteTo(DW(), hn::LowerHalf(dh, v)));
    hi_ = hn::Add(hi_, hn::PromoteTo(DW(), hn::UpperHalf(dh, v)));
#endif
  }
  // The sum of every lane.
  double Total() const {
    const DW dw;
    return hn::GetLane(hn::SumOfLanes(dw, hn::Add(lo_, hi_)));
  }
  // out[i]: the sum of float lane i.
  void PerLane(double* out) const {
    const DW dw;
    hn::StoreU(lo_, dw, out);
#if HWY_TARGET != HWY_SCALAR
    hn::StoreU(hi_, dw, out + hn::Lanes(dw));
#endif
  }

 private:
#if HWY_TARGET == HWY_SCALAR
  using DW = hn::Rebind<double, DT<float>>;
#else
  using DW = hn::Rebind<double, hn::Half<DT<float>>>;
#endif
  hn::Vec<DW> lo_, hi_;  // float lanes [0, N/2) and [N/2, N)
};

// Double lanes: hi + lo carries each sum; TwoSum moves every addition's
// rounding error to lo.
template <>
class LaneSum<double> {
 public:
  LaneSum() : hi_(hn::Zero(DT<double>())), lo_(hn::Zero(DT<double>())) {}

  HWY_INLINE void Add(VT<double> v) {
    const VT<double> s = hn::Add(hi_, v);
    const VT<double> bb = hn::Sub(s, hi_);
    const VT<double> err =
        hn::Add(hn::Sub(hi_, hn::Sub(s, bb)), hn::Sub(v, bb));
    hi_ = s;
    lo_ = hn::Add(lo_, err);
  }
  // One at a time: compensation needs no blocks.
  HWY_INLINE void Add4(VT<double> v0, VT<double> v1, VT<double> v2,
                       VT<double> v3) {
    Add(v0);
    Add(v1);
    Add(v2);
    Add(v3);
  }
  double Total() const {
    double lo;
    const double hi = Total(&lo);
    return hi + lo;
  }
  // The sum as hi + *lo, unrounded (the backward's cancelling differences
  // need more than the rounded sum).
  double Total(double* lo) const {
    const DT<double> d;
    HWY_ALIGN double his[kMaxLanes<double>];
    HWY_ALIGN double los[kMaxLanes<double>];
    hn::Store(hi_, d, his);
    hn::Store(lo_, d, los);
    double s = 0, err = 0;
    for (size_t i = 0; i < hn::Lanes(d); ++i) {
      double e;
      s = TwoSum(s, his[i], &e);
      err += e + los[i];
    }
    *lo = err;
    return s;
  }
  void PerLane(double* out) const {
    hn::StoreU(hn::Add(hi_, lo_), DT<double>(), out);
  }
  // Lane i's sum as hi[i] + lo[i], unrounded.
  void PerLane(double* hi, double* lo) const {
    hn::StoreU(hi_, DT<double>(), hi);
    hn::StoreU(lo_, DT<double>(), lo);
  }

 private:
  VT<double> hi_, lo_;
};

// One vector's worth of slices: one slice whose axis the lanes run along
// (along_axis), or up to Lanes() neighbouring slices, one per lane.
struct SliceGroup {
  size_t offset;  // of the group's first element
  size_t steps;   // vectors per slice
  size_t stride;  // elements between consecutive vectors
  size_t width;   // along_axis: the axis length; else: slices in the group
  size_t full;    // steps [0, full) have all lanes valid
  bool along_axis;
  // along_axis and not the block's last slice: the next slice follows.
  bool next_follows;

  // Valid lanes of vector `step`.
  size_t Count(size_t step, size_t lanes) const {
    return along_axis ? std::min(lanes, width - step * lanes) : width;
  }
  size_t Slices() const { return along_axis ? 1 : width; }
  // The axis length.
  size_t Length() const { return along_axis ? width : steps; }
  // Element k of the slice in lane `slice`.
  size_t At(size_t slice, size_t k) const {
    return offset + (along_axis ? k : k * stride + slice);
  }
};

template <typename T, class Fn>
void ForEachSliceGroup(const SliceShape& s, Fn fn) {
  const size_t lanes = hn::Lanes(DT<T>());
  for (size_t o = 0; o < s.outer; ++o) {
    const size_t base = o * s.axis_len * s.inner;
    if (s.inner == 1) {
      fn(SliceGroup{base, (s.axis_len + lanes - 1) / lanes, lanes, s.axis_len,
                    s.axis_len / lanes, true, o + 1 < s.outer});
    } else {
      for (size_t c = 0; c < s.inner; c += lanes) {
        const size_t width = std::min(lanes, s.inner - c);
        fn(SliceGroup{base + c, s.axis_len, s.inner, width,
                      width == lanes ? s.axis_len : 0, false, false});
      }
    }
  }
}

// Lanes of T from a vector of the stored type S (float data in the double
// lanes of the backward), and back (rounded once).
template <typename T, typename S>
HWY_INLINE VT<T> Promote(hn::Vec<hn::Rebind<S, DT<T>>> v) {
  if constexpr (std::is_same_v<S, T>) {
    return v;
  } else {
    return hn::PromoteTo(DT<T>(), v);
  }
}
template <typename T, typename S>
HWY_INLINE hn::Vec<hn::Rebind<S, DT<T>>> Demote(VT<T> v) {
  if constexpr (std::is_same_v<S, T>) {
    return v;
  } else {
    return hn::DemoteTo(hn::Rebind<S, DT<T>>(), v);
  }
}

// Vector `step` of a group, stored as S, in lanes of T; missing lanes read
// `pad`.
template <typename T, typename S>
HWY_INLINE VT<T> LoadStep(const SliceGroup& g, const S* p, size_t step, T pad) {
  const hn::Rebind<S, DT<T>> ds;
  const size_t lanes = hn::Lanes(ds);
  p += g.offset + step * g.stride;
  if (HWY_LIKELY(step < g.full)) return Promote<T, S>(hn::LoadU(ds, p));
  const size_t n = g.Count(step, lanes);
  HWY_ALIGN S buf[kMaxLanes<T>];
  for (size_t i = 0; i < lanes; ++i) {
    buf[i] = i < n ? p[i] : static_cast<S>(pad);
  }
  return Promote<T, S>(hn::Load(ds, buf));
}

// Stores the valid lanes of vector `step` as S.
template <typename T, typename S>
HWY_INLINE void StoreStep(VT<T> v, const SliceGroup& g, S* p, size_t step) {
  const hn::Rebind<S, DT<T>> ds;
  const size_t lanes = hn::Lanes(ds);
  p += g.offset + step * g.stride;
  if (HWY_LIKELY(step < g.full)) return hn::StoreU(Demote<T, S>(v), ds, p);
  const size_t n = g.Count(step, lanes);
  HWY_ALIGN S buf[kMaxLanes<T>];
  hn::Store(Demote<T, S>(v), ds, buf);
  std::copy(buf, buf + n, p);
}

// A whole row along the axis (g.along_axis, width >= lanes) with
// non-temporal stores: value(p) gives the vector of positions p .. p + lanes
// - 1 (unaligned loads), so whole vectors start where `out` is aligned, and
// the partial ones at either end come from overlapping vectors. Every lane is
// computed from its own position only, so the bits are StoreStep's.
template <typename T, class Value>
HWY_INLINE void StreamRow(const SliceGroup& g, T* out, Value value) {
  const DT<T> d;
  const size_t lanes = hn::Lanes(d);
  T* row = out + g.offset;
  const size_t n = g.width;
  const size_t vector_bytes = lanes * sizeof(T);
  const size_t misaligned = reinterpret_cast<uintptr_t>(row) % vector_bytes;
  HWY_ALIGN T buf[kMaxLanes<T>];
  size_t p = 0;
  if (misaligned % sizeof(T) != 0) {
    for (; p + lanes <= n; p += lanes) hn::StoreU(value(p), d, row + p);
  } else {
    p = (vector_bytes - misaligned) % vector_bytes / sizeof(T);
    if (p != 0) {
      hn::Store(value(0), d, buf);
      std::copy(buf, buf + p, row);
    }
    for (; p + lanes <= n; p += lanes) hn::Stream(value(p), d, row + p);
  }
  if (p < n) {
    hn::Store(value(n - lanes), d, buf);
    std::copy(buf + lanes - (n - p), buf + lanes, row + p);
  }
}

// Per-slice values as a vector: broadcast when along_axis, else lane i from
// values[i].
template <typename T>
HWY_INLINE VT<T> SliceVector(const SliceGroup& g, const T* values) {
  return g.along_axis ? hn::Set(DT<T>(), values[0])
                      : hn::LoadU(DT<T>(), values);
}

// Pass 1: the max of each slice, NaN where the slice is bad (it holds NaN,
// or its max is +inf or -inf). A NaN max makes every d NaN, so every
// exponential 0. (hn::Max is not consistent across targets about NaN.)
template <typename T, typename S>
HWY_INLINE VT<T> SliceMax(const SliceGroup& g, const S* x) {
  const DT<T> d;
  VT<T> m = hn::Set(d, -std::numeric_limits<T>::infinity());
  MT<T> nan = hn::FirstN(d, 0);
  for (size_t k = 0; k < g.steps; ++k) {
    const VT<T> v = LoadStep(g, x, k, -std::numeric_limits<T>::infinity());
    m = hn::Max(m, v);
    nan = hn::Or(nan, hn::IsNaN(v));
  }
  if (g.along_axis) {
    m = hn::MaxOfLanes(d, m);
    nan = hn::FirstN(d, hn::AllFalse(d, nan) ? 0 : hn::Lanes(d));
  }
  return hn::IfThenElse(hn::Or(nan, hn::Not(hn::IsFinite(m))),
                        hn::Set(d, std::numeric_limits<T>::quiet_NaN()), m);
}

// x - m as d_hi + d_lo exactly (TwoSum). d_lo is garbage where d_hi is not
// finite; ExpOfSum ignores it there.
template <typename T>
struct Shifted {
  VT<T> hi, lo;
};

template <typename T>
HWY_INLINE Shifted<T> Shift(VT<T> x, VT<T> neg_m) {
  const VT<T> s = hn::Add(x, neg_m);
  const VT<T> bb = hn::Sub(s, x);
  return {s, hn::Add(hn::Sub(x, hn::Sub(s, bb)), hn::Sub(neg_m, bb))};
}

enum class GradSum { kNone, kTimesExp, kPlain };

// Pass 2's sums, per lane.
template <typename T>
struct ExpSums {
  ExpSums() : count(hn::Zero(DI<T>())), max_step(hn::Zero(DI<T>())) {}
  LaneSum<T> exp;        // S, or R when the max elements are split off
  LaneSum<T> grad_max;   // over the max elements: g (e = 1)
  LaneSum<T> grad_rest;  // over the other elements: g e or g
  VI<T> count;           // c: elements equal to the max
  VI<T> max_step;        // the step holding the (last) max
};

// Pass 2 for vector k: e = exp(x - m), stored to scratch (one full vector
// per step) when kStore; adds to the gradient sums and returns the terms of
// the exponentials' sum. With kSplit the elements equal to the max (e = 1)
// are counted apart from R; vectors holding one are rare (one per slice along
// the axis), so they take a branch of their own. kFast: FastExp's scaling.
template <bool kSplit, GradSum kGrad, bool kStore, bool kFast, typename T,
          typename S>
HWY_INLINE VT<T> ExpStep(const SliceGroup& g, const S* x, const S* grad,
                         VT<T> m, const FastShift<T>* fast, T* scratch,
                         ExpSums<T>& sums, size_t k) {
  const DT<T> d;
  const DI<T> di;
  const size_t lanes = hn::Lanes(d);
  const VT<T> v = LoadStep(g, x, k, -std::numeric_limits<T>::infinity());
  VT<T> e;
  MT<T> is_max;
  if constexpr (kFast) {
    e = FastExp(v, *fast);
    if constexpr (kSplit) is_max = hn::Eq(v, m);
  } else {
    const Shifted<T> sh = Shift<T>(v, hn::Neg(m));
    e = ExpOfSum<T>(sh.hi, sh.lo);
    // x == m exactly where d_hi == 0: distinct floats never round to 0.
    if constexpr (kSplit) is_max = hn::Eq(sh.hi, hn::Zero(d));
  }
  if constexpr (kStore) hn::Store(e, d, scratch + k * lanes);
  VT<T> rest = e;
  VT<T> gv = hn::Zero(d), grad_term = hn::Zero(d);
  if constexpr (kGrad != GradSum::kNone) {
    gv = LoadStep(g, grad, k, T{0});
    // g e unscaled: e * kExpScale could overflow with large g.
    grad_term =
        kGrad == GradSum::kTimesExp
            ? hn::Mul(gv,
                      hn::Mul(e, hn::Set(d, static_cast<T>(1 / kExpScale<T>))))
            : gv;
  }
  if constexpr (kSplit) {
    if (HWY_UNLIKELY(!hn::AllFalse(d, is_max))) {
      const auto is_max_i = hn::RebindMask(di, is_max);
      sums.count = hn::Sub(sums.count, hn::VecFromMask(di, is_max_i));
      sums.max_step = hn::IfThenElse(
          is_max_i, hn::Set(di, static_cast<TI<T>>(k)), sums.max_step);
      rest = hn::IfThenZeroElse(is_max, e);
      // For the max elements g e = g.
      sums.grad_max.Add(hn::IfThenElseZero(is_max, gv));
      grad_term = hn::IfThenZeroElse(is_max, grad_term);
    }
  }
  if constexpr (kGrad != GradSum::kNone) sums.grad_rest.Add(grad_term);
  return rest;
}

// Pass 2 over a group, the exponentials summed in blocks of four vectors by
// step index (so the grouping depends only on the position in the slice).
// kFast (float only): by FastExp, with `fast` made from m.
template <bool kSplit, GradSum kGrad, bool kStore, bool kFast = false,
          typename T, typename S>
HWY_INLINE void ExpPass(const SliceGroup& g, const S* x, const S* grad, VT<T> m,
                        T* scratch, ExpSums<T>& sums,
                        const FastShift<T>* fast = nullptr) {
  size_t k = 0;
  for (; k + 4 <= g.steps; k += 4) {
    // The next slice's lines, while this one computes: a row of 1024 floats
    // is one 4 KiB page, and hardware prefetchers stop at page boundaries,
    // so pass 1 of every row would otherwise start with cache misses.
    if (g.next_follows) {
      const size_t lanes = hn::Lanes(DT<T>());
      for (size_t j = 0; j < 4; ++j) {
        hwy::Prefetch(x + g.offset + g.width + (k + j) * lanes);
        if constexpr (kGrad != GradSum::kNone) {
          hwy::Prefetch(grad + g.offset + g.width + (k + j) * lanes);
        }
      }
    }
    // Spelled out: GCC keeps neither a lambda nor an array of four in
    // registers.
    const VT<T> e0 = ExpStep<kSplit, kGrad, kStore, kFast>(g, x, grad, m, fast,
                                                           scratch, sums, k);
    const VT<T> e1 = ExpStep<kSplit, kGrad, kStore, kFast>(
        g, x, grad, m, fast, scratch, sums, k + 1);
    const VT<T> e2 = ExpStep<kSplit, kGrad, kStore, kFast>(
        g, x, grad, m, fast, scratch, sums, k + 2);
    const VT<T> e3 = ExpStep<kSplit, kGrad, kStore, kFast>(
        g, x, grad, m, fast, scratch, sums, k + 3);
    sums.exp.Add4(e0, e1, e2, e3);
  }
  for (; k < g.steps; ++k) {
    sums.exp.Add(ExpStep<kSplit, kGrad, kStore, kFast>(g, x, grad, m, fast,
                                                       scratch, sums, k));
  }
}

// Whether the group's valid lanes all have |m| <= kFastMax (false for bad
// slices, whose m is NaN).
template <typename T>
HWY_INLINE bool UseFastExp(const SliceGroup& g, VT<T> m) {
  const DT<T> d;
  const MT<T> ok = hn::Le(hn::Abs(m), hn::Set(d, static_cast<T>(kFastMax)));
  return hn::AllTrue(
      d, hn::Or(ok, hn::Not(hn::FirstN(
                        d, g.along_axis ? hn::Lanes(d) : g.Slices()))));
}

// Pass 2 by FastExp where UseFastExp allows (float), else by the exact
// x - m. factors (unless null) receives per slice the factor e^(m - K ln 2)
// that FastExp's values and sums carry, 1 without it; the sums in double
// take it out (K ln 2 - m is accurate to ~2^-45 there).
template <bool kSplit, GradSum kGrad, bool kStore, typename T>
HWY_INLINE void ExpPassAny(const SliceGroup& g, const T* x, const T* grad,
                           VT<T> m, T* scratch, ExpSums<T>& sums,
                           double* factors) {
  if constexpr (sizeof(T) == 4) {
    if (UseFastExp<T>(g, m)) {
      const DT<T> d;
      const FastShift<T> f(m);
      ExpPass<kSplit, kGrad, kStore, /*kFast=*/true>(g, x, grad, m, scratch,
                                                     sums, &f);
      if (factors != nullptr) {
        HWY_ALIGN T max[kMaxLanes<T>] = {};
        HWY_ALIGN T shift_k[kMaxLanes<T>] = {};
        hn::Store(m, d, max);
        hn::Store(f.k, d, shift_k);
        for (size_t i = 0; i < g.Slices(); ++i) {
          factors[i] =
              std::exp(max[i] - shift_k[i] * 0.693147180559945309417232);
        }
      }
      return;
    }
  }
  ExpPass<kSplit, kGrad, kStore>(g, x, grad, m, scratch, sums);
  if (factors != nullptr) std::fill(factors, factors + g.Slices(), 1.0);
}

// Pass 2's sums for one slice, in double.
struct SliceTotals {
  bool bad;
  double count;  // c (with the max split off)
  double exp;    // S, or R with the max split off (unscaled)
  double grad_max, grad_rest;
  // grad_max + grad_rest as grad_all + grad_all_lo (double lanes only).
  double grad_all, grad_all_lo;
  size_t max_at;  // element offset of the max where c == 1
};

template <typename T>
void Totals(const SliceGroup& g, VT<T> m, const ExpSums<T>& sums,
            SliceTotals* out) {
  const DT<T> d;
  const DI<T> di;
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN T max[kMaxLanes<T>] = {};
  HWY_ALIGN TI<T> count[kMaxLanes<T>] = {}, max_step[kMaxLanes<T>] = {};
  double exp[kMaxLanes<T>] = {}, grad_max[kMaxLanes<T>] = {},
         grad_rest[kMaxLanes<T>] = {};
  hn::Store(m, d, max);
  hn::Store(sums.count, di, count);
  hn::Store(sums.max_step, di, max_step);
  if (g.along_axis) {
    SliceTotals& t = out[0];
    t = SliceTotals{};
    t.bad = std::isnan(max[0]);
    t.exp = sums.exp.Total() / kExpScale<T>;
    if constexpr (sizeof(T) == 8) {
      double max_lo, rest_lo, lo;
      const double max_hi = sums.grad_max.Total(&max_lo);
      const double rest_hi = sums.grad_rest.Total(&rest_lo);
      t.grad_max = max_hi + max_lo;
      t.grad_rest = rest_hi + rest_lo;
      t.grad_all = TwoSum(max_hi, rest_hi, &lo);
      t.grad_all_lo = lo + max_lo + rest_lo;
    }
    t.count = 0;
    t.max_at = g.offset;
    for (size_t i = 0; i < lanes; ++i) {
      t.count += static_cast<double>(count[i]);
      if (count[i] != 0) t.max_at = g.At(0, max_step[i] * lanes + i);
    }
    return;
  }
  sums.exp.PerLane(exp);
  for (double& e : exp) e /= kExpScale<T>;
  double max_lo[kMaxLanes<T>] = {}, rest_lo[kMaxLanes<T>] = {};
  if constexpr (sizeof(T) == 8) {
    sums.grad_max.PerLane(grad_max, max_lo);
    sums.grad_rest.PerLane(grad_rest, rest_lo);
  }
  for (size_t i = 0; i < g.width; ++i) {
    double lo;
    const double all = TwoSum(grad_max[i], grad_rest[i], &lo);
    out[i] = {std::isnan(max[i]),
              static_cast<double>(count[i]),
              exp[i],
              grad_max[i] + max_lo[i],
              grad_rest[i] + rest_lo[i],
              all,
              lo + max_lo[i] + rest_lo[i],
              g.At(i, static_cast<size_t>(max_step[i]))};
  }
}

// Scratch for the exponentials of one group: one vector per step, on the
// stack up to 8 KiB (slices of up to 1024 elements along the last axis, in
// float or in the backward's double lanes: classifier widths allocate nothing
// per call), else on the heap.
template <typename T>
class Scratch {
 public:
  explicit Scratch(const SliceShape& s) {
    const size_t lanes = hn::Lanes(DT<T>());
    const size_t steps =
        s.inner == 1 ? (s.axis_len + lanes - 1) / lanes : s.axis_len;
    if (steps * lanes > kStackElements) {
      heap_ = hwy::AllocateAligned<T>(steps * lanes);
    }
  }
  T* get() { return heap_ ? heap_.get() : stack_; }

 private:
  static constexpr size_t kStackElements = 8192 / sizeof(T);
  HWY_ALIGN T stack_[kStackElements];
  hwy::AlignedFreeUniquePtr<T[]> heap_;
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kNoElement = ~size_t{0};

// A slice holding exactly one +inf and no NaN has limits (x_k -> +inf, the
// others fixed): p = softmax(x) tends to the indicator of k, so softmax is
// 1 at k and 0 elsewhere, log_softmax 0 at k and -inf elsewhere, and the
// Jacobian and backward are their formulas at that p (see there). Several
// +inf have no limit (it depends on how they grow), so those slices stay
// NaN. Returns k, or kNoElement; only asked of slices whose max is not
// finite (rare), hence scalar.
template <typename S>
size_t LoneInfinity(const SliceGroup& g, const S* x, size_t slice) {
  size_t at = kNoElement;
  for (size_t k = 0; k < g.Length(); ++k) {
    const S v = x[g.At(slice, k)];
    if (std::isnan(v)) return kNoElement;
    if (v == std::numeric_limits<S>::infinity()) {
      if (at != kNoElement) return kNoElement;
      at = k;
    }
  }
  return at;
}

// -sum_{k != skip} g_k of one slice, compensated (TwoSum) and rounded once:
// log_softmax's backward at a lone +inf.
template <typename S>
double MinusSumExcept(const SliceGroup& g, const S* grad, size_t slice,
                      size_t skip) {
  double hi = 0, lo = 0;
  for (size_t k = 0; k < g.Length(); ++k) {
    if (k == skip) continue;
    double err;
    hi = TwoSum(hi, grad[g.At(slice, k)], &err);
    lo += err;
  }
  return -(hi + lo);
}

template <bool kLog, typename T>
void SoftmaxForward(const T* x, T* y, const SliceShape& s) {
  const DT<T> d;
  const size_t lanes = hn::Lanes(d);
  Scratch<T> scratch(s);
  ForEachSliceGroup<T>(s, [&](const SliceGroup g) {
    // Local copies of the pointers: Highway's stores may alias the captured
    // ones, which would otherwise be reloaded after every store.
    const T* const in = x;
    T* const out = y;
    T* const e = scratch.get();
    const bool stream = s.stream_output && g.along_axis && g.width >= lanes;
    const VT<T> m = SliceMax<T>(g, in);
    ExpSums<T> sums;
    SliceTotals totals[kMaxLanes<T>];
    HWY_ALIGN T scalar[kMaxLanes<T>] = {};
    // Found before the outputs are written: y may alias x.
    size_t infinity_at[kMaxLanes<T>];
    std::fill_n(infinity_at, kMaxLanes<T>, kNoElement);
    const auto find_infinities = [&] {
      for (size_t i = 0; i < g.Slices(); ++i) {
        infinity_at[i] = totals[i].bad ? LoneInfinity(g, in, i) : kNoElement;
      }
    };
    if constexpr (kLog) {
      double factors[kMaxLanes<T>];
      ExpPassAny</*kSplit=*/true, GradSum::kNone, /*kStore=*/false>(
          g, in, in, m, static_cast<T*>(nullptr), sums, factors);
      Totals(g, m, sums, totals);
      find_infinities();
      for (size_t i = 0; i < g.Slices(); ++i) {
        const SliceTotals& t = totals[i];
        const double rest = t.exp / factors[i];
        // log S, by log1p(R) where S = 1 + R is near 1.
        scalar[i] =
            static_cast<T>(t.bad ? kNaN
                                 : (t.count == 1 ? std::log1p(rest)
                                                 : std::log(t.count + rest)));
      }
      // y = (x - m) - log S: both terms of the difference are <= 0, so
      // |y| >= |x - m| and the rounding of x - m costs at most 1/2 ULP of y
      // (x - m need not be exact here, unlike in the exponential).
      const VT<T> log_sum = SliceVector(g, scalar);
      if (stream) {
        StreamRow(g, out, [&](size_t p) {
          return hn::Sub(hn::Sub(hn::LoadU(d, in + g.offset + p), m), log_sum);
        });
      } else {
        for (size_t k = 0; k < g.steps; ++k) {
          const VT<T> v = LoadStep(g, in, k, T{0});
          StoreStep<T>(hn::Sub(hn::Sub(v, m), log_sum), g, out, k);
        }
      }
    } else {
      // FastExp's common factor e^(m - K ln 2) cancels in e / S.
      ExpPassAny</*kSplit=*/false, GradSum::kNone, /*kStore=*/true>(
          g, in, in, m, e, sums, /*factors=*/nullptr);
      Totals(g, m, sums, totals);
      find_infinities();
      for (size_t i = 0; i < g.Slices(); ++i) {
        scalar[i] = static_cast<T>(
            totals[i].bad ? kNaN : 1 / (totals[i].exp * kExpScale<T>));
      }
      const VT<T> inv_sum = SliceVector(g, scalar);
      if (stream) {
        StreamRow(g, out, [&](size_t p) {
          return hn::Mul(hn::LoadU(d, e + p), inv_sum);
        });
      } else {
        for (size_t k = 0; k < g.steps; ++k) {
          StoreStep<T>(hn::Mul(hn::Load(d, e + k * lanes), inv_sum), g, out, k);
        }
      }
    }
    for (size_t i = 0; i < g.Slices(); ++i) {
      if (infinity_at[i] == kNoElement) continue;
      // Over the NaN just written; the streamed stores land first.
      if (stream) hwy::FlushStream();
      for (size_t k = 0; k < g.Length(); ++k) {
        out[g.At(i, k)] =
            k == infinity_at[i]
                ? T{kLog ? 0 : 1}
                : (kLog ? -std::numeric_limits<T>::infinity() : T{0});
      }
    }
  });
  // Makes the streamed lines visible before the pool reports this block
  // done.
  if (s.stream_output) hwy::FlushStream();
}

// In double lanes for float data too (promoted on load, rounded once on
// store): see the header comment's last point.
template <bool kLog, typename S>
void SoftmaxBackward(const S* x, const S* grad, S* gx, const SliceShape& s) {
  using T = double;
  constexpr GradSum kGrad = kLog ? GradSum::kPlain : GradSum::kTimesExp;
  const DT<T> d;
  const size_t lanes = hn::Lanes(d);
  Scratch<T> scratch(s);
  ForEachSliceGroup<T>(s, [&](const SliceGroup g) {
    // Local copies of the pointers, as in SoftmaxForward.
    const S* const in = x;
    const S* const g_in = grad;
    S* const out = gx;
    T* const e = scratch.get();
    const VT<T> m = SliceMax<T>(g, in);
    ExpSums<T> sums;
    ExpPass</*kSplit=*/true, kGrad, /*kStore=*/true>(g, in, g_in, m, e, sums);
    SliceTotals totals[kMaxLanes<T>];
    Totals(g, m, sums, totals);
    // Per slice: 1 / S, and the sum to subtract as hi + lo (softmax:
    // D = sum(g y) = (g_max + g_rest) / S; log_softmax: G = sum(g)).
    HWY_ALIGN T inv_sum[kMaxLanes<T>] = {}, total_hi[kMaxLanes<T>] = {},
                total_lo[kMaxLanes<T>] = {};
    // One element per slice computed apart (the max where c = 1, a lone
    // +inf), and read before gx may overwrite g.
    S single[kMaxLanes<T>] = {};
    size_t single_at[kMaxLanes<T>];
    std::fill_n(single_at, kMaxLanes<T>, kNoElement);
    for (size_t i = 0; i < g.Slices(); ++i) {
      const SliceTotals& t = totals[i];
      if (t.bad) {
        const size_t k = LoneInfinity(g, in, i);
        if (k == kNoElement) {
          inv_sum[i] = kNaN;
          continue;
        }
        // p is the indicator of k, and every stored e of the slice is 0:
        // with 1 / S = 0 and a zero sum the loop below gives softmax's
        // p (g - D) = 0 and log_softmax's g - p G = g off k. At k softmax
        // gives g_k - g_k, log_softmax g_k - G = -sum_{j != k} g_j.
        single_at[i] = g.At(i, k);
        const double g_k = g_in[single_at[i]];
        single[i] =
            static_cast<S>(kLog ? MinusSumExcept(g, g_in, i, k) : g_k - g_k);
        continue;
      }
      const double sum = t.count + t.exp;
      inv_sum[i] = 1 / (sum * kExpScale<T>);
      if (kLog) {
        total_hi[i] = t.grad_all;
        total_lo[i] = t.grad_all_lo;
      } else {
        // (hi + lo) / S: the quotient's rounding error goes to the low part.
        total_hi[i] = t.grad_all / sum;
        total_lo[i] =
            (std::fma(-total_hi[i], sum, t.grad_all) + t.grad_all_lo) / sum;
      }
      if (t.count == 1) {
        // The max element (e = 1, p = 1 / S, 1 - p = R / S): softmax
        // p (g - D) = (g R - g_rest) / S^2, log_softmax g (1 - p) - p g_rest
        // = (g R - g_rest) / S.
        single_at[i] = t.max_at;
        const double diff = g_in[t.max_at] * t.exp - t.grad_rest;
        single[i] = static_cast<S>(kLog ? diff / sum : diff / sum / sum);
      }
    }
    const VT<T> inv = SliceVector(g, inv_sum);
    const VT<T> hi = SliceVector(g, total_hi);
    const VT<T> lo = SliceVector(g, total_lo);
    for (size_t k = 0; k < g.steps; ++k) {
      const VT<T> p = hn::Mul(hn::Load(d, e + k * lanes), inv);
      const VT<T> gv = LoadStep(g, g_in, k, T{0});
      // softmax: p ((g - D_hi) - D_lo); log_softmax: (g - p G_hi) - p G_lo.
      // Where they cancel the first difference is exact (Sterbenz; with
      // FMA for log_softmax), so only the errors of p and of the sums count.
      StoreStep<T>(kLog ? hn::NegMulAdd(p, lo, hn::NegMulAdd(p, hi, gv))
                        : hn::Mul(p, hn::Sub(hn::Sub(gv, hi), lo)),
                   g, out, k);
    }
    for (size_t i = 0; i < g.Slices(); ++i) {
      if (single_at[i] != kNoElement) out[single_at[i]] = single[i];
    }
  });
}

// Jacobians, [outer, inner, K, K]. Per slice, p and q = 1 - p (from R / S
// for the dominant element) go to double rows first.
template <bool kLog, typename T>
void SoftmaxJacobian(const T* x, T* jac, const SliceShape& s) {
  const DT<T> d;
  const size_t lanes = hn::Lanes(d);
  const size_t len = s.axis_len;
  Scratch<T> scratch(s);
  auto p_row = hwy::AllocateAligned<double>(len);
  auto q_row = hwy::AllocateAligned<double>(len);
  ForEachSliceGroup<T>(s, [&](const SliceGroup g) {
    const VT<T> m = SliceMax<T>(g, x);
    ExpSums<T> sums;
    ExpPass</*kSplit=*/true, GradSum::kNone, /*kStore=*/true>(
        g, x, x, m, scratch.get(), sums);
    SliceTotals totals[kMaxLanes<T>];
    Totals(g, m, sums, totals);
    // Slice index of lane 0 of this group.
    const size_t first_slice =
        g.along_axis
            ? g.offset / len
            : (g.offset / (len * s.inner)) * s.inner + g.offset % s.inner;
    for (size_t l = 0; l < g.Slices(); ++l) {
      const SliceTotals& t = totals[l];
      T* out = jac + (first_slice + l) * len * len;
      const size_t infinity_at = t.bad ? LoneInfinity(g, x, l) : kNoElement;
      if (infinity_at != kNoElement) {
        // At p = the indicator of k: softmax's y_i (delta_ij - y_j) is 0
        // everywhere, log_softmax's delta_ij - p_j is 0 at [k][k], -1 down
        // column k and the identity elsewhere.
        for (size_t i = 0; i < len; ++i) {
          for (size_t j = 0; j < len; ++j) {
            out[i * len + j] =
                kLog ? static_cast<T>(i == j) - static_cast<T>(j == infinity_at)
                     : T{0};
          }
        }
        continue;
      }
      if (t.bad) {
        std::fill(out, out + len * len, std::numeric_limits<T>::quiet_NaN());
        continue;
      }
      const double sum = t.count + t.exp;
      for (size_t j = 0; j < len; ++j) {
        const T e = scratch.get()[g.along_axis ? j : j * lanes + l];
        p_row[j] = e / (sum * kExpScale<T>);
        q_row[j] = 1 - p_row[j];
      }
      if (t.count == 1) {
        const size_t k = g.along_axis ? t.max_at - g.offset
                                      : (t.max_at - g.offset) / g.stride;
        q_row[k] = t.exp / sum;
      }
      for (size_t i = 0; i < len; ++i) {
        // softmax: J[i][j] = -p_i p_j, J[i][i] = p_i q_i.
        // log_softmax: J[i][j] = -p_j, J[i][i] = q_i.
        const double scale = kLog ? -1.0 : -p_row[i];
        T* row = out + i * len;
        for (size_t j = 0; j < len; ++j) {
          row[j] = static_cast<T>(scale * p_row[j]);
        }
        row[i] = static_cast<T>(kLog ? q_row[i] : p_row[i] * q_row[i]);
      }
    }
  });
}

}  // namespace softmax_internal

// Defines softmax's (kLog false) or log_softmax's ForwardF32 ... BackwardF64
// in the current target namespace (include core/kernels/axis_kernels.h).
#define ACTSERVE_DEFINE_SOFTMAX_KERNELS(kLog)                         \
  template <typename T>                                               \
  void Forward(const T* x, T* y, const SliceShape& s) {               \
    softmax_internal::SoftmaxForward<kLog>(x, y, s);                  \
  }                                                                   \
  template <typename T>                                               \
  void Derivative(const T* x, T* d, const SliceShape& s) {            \
    softmax_internal::SoftmaxJacobian<kLog>(x, d, s);                 \
  }                                                                   \
  template <typename T>                                               \
  void Backward(const T* x, const T* g, T* gx, const SliceShape& s) { \
    softmax_internal::SoftmaxBackward<kLog>(x, g, gx, s);             \
  }                                                                   \
  ACTSERVE_DEFINE_AXIS_KERNELS

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
