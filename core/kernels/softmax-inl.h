// softmax and log_softmax along an axis, compiled once per SIMD target
// (include from a translation unit that uses hwy/foreach_target.h).
//
// The input is viewed as [outer, K, inner] and every slice along K is one
// vector. Two layouts share one set of loops: with inner == 1 the lanes run
// along the slice (the common [batch, classes] case) and are reduced across
// at the end; with inner > 1 the lanes hold neighbouring slices (contiguous
// vectors over inner, one loop over k) and nothing is reduced across lanes.
//
// Why the results stay within a few ULP of the exact values, for any slice:
//  * Everything is computed in float64, float32 included: it costs about 2x
//    in lanes, and it makes float32 errors come only from the final rounding.
//  * d = x - max is kept exactly as d_hi + d_lo (TwoSum), and
//    exp(d) = exp(d_hi) * (1 + d_lo). Rounding d would shift the exponent by
//    up to |d| * 2^-53, i.e. hundreds of ULP in e^d for |d| near 700.
//  * The sum of exponentials is S = c + R: c counts the elements equal to the
//    max (each e^0 = 1 exactly) and R sums the others, compensated (TwoSum
//    into a second accumulator), so its error is ~1 ULP for any K where a
//    plain sum of K terms could lose K/2 ULP.
//  * Where one element dominates (c = 1), quantities that would cancel are
//    rewritten through R: log S = log1p(R); 1 - y_max = R / S; the backward
//    terms g - sum(g y) and g - p sum(g) of that element use only the other
//    elements' sums. Everywhere else the differences are at least 1/2.
//  * Semantics follow PyTorch: a slice holding NaN or +inf, or only -inf,
//    is NaN throughout (its max is not finite); -inf entries get y = 0
//    (log_softmax: -inf) like any tiny exponential.

#if defined(ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
#undef ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/activation_def.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace softmax_internal {

using DW = hn::ScalableTag<double>;
using VW = hn::Vec<DW>;
using MW = hn::Mask<DW>;
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(double);
constexpr double kInf = std::numeric_limits<double>::infinity();

// One vector's worth of slices: one slice whose axis the lanes run along
// (along_axis), or up to Lanes() neighbouring slices, one per lane.
struct SliceGroup {
  size_t offset;  // of the group's first element
  size_t steps;   // vectors per slice
  size_t stride;  // elements between consecutive vectors
  size_t width;   // along_axis: the axis length; else: slices in the group
  bool along_axis;

  // Valid lanes of vector `step`.
  size_t Count(size_t step, size_t lanes) const {
    return along_axis ? std::min(lanes, width - step * lanes) : width;
  }
};

template <class Fn>
void ForEachSliceGroup(const SliceShape& s, Fn fn) {
  const size_t lanes = hn::Lanes(DW());
  for (size_t o = 0; o < s.outer; ++o) {
    const size_t base = o * s.axis_len * s.inner;
    if (s.inner == 1) {
      fn(SliceGroup{base, (s.axis_len + lanes - 1) / lanes, lanes, s.axis_len,
                    true});
    } else {
      for (size_t c = 0; c < s.inner; c += lanes) {
        fn(SliceGroup{base + c, s.axis_len, s.inner,
                      std::min(lanes, s.inner - c), false});
      }
    }
  }
}

// Vector `step` of a group as float64; missing lanes read `pad`.
template <typename T>
HWY_INLINE VW LoadStep(const SliceGroup& g, const T* p, size_t step,
                       double pad) {
  const DW dw;
  const size_t lanes = hn::Lanes(dw);
  const size_t n = g.Count(step, lanes);
  p += g.offset + step * g.stride;
  if (n == lanes) {
    if constexpr (std::is_same_v<T, double>) {
      return hn::LoadU(dw, p);
    } else {
      const hn::Rebind<float, DW> df;
      return hn::PromoteTo(dw, hn::LoadU(df, p));
    }
  }
  HWY_ALIGN double buf[kMaxLanes];
  for (size_t i = 0; i < lanes; ++i) buf[i] = i < n ? p[i] : pad;
  return hn::Load(dw, buf);
}

// Rounds to T and stores the valid lanes of vector `step`.
template <typename T>
HWY_INLINE void StoreStep(VW v, const SliceGroup& g, T* p, size_t step) {
  const DW dw;
  const size_t lanes = hn::Lanes(dw);
  const size_t n = g.Count(step, lanes);
  p += g.offset + step * g.stride;
  if (n == lanes) {
    if constexpr (std::is_same_v<T, double>) {
      hn::StoreU(v, dw, p);
    } else {
      // Highway's scalar DemoteTo saturates, infinities included; values
      // from FLT_MAX + half an ULP up must round to inf as static_cast does.
      // The mask crosses lane widths as a demoted 0/1 vector.
      const hn::Rebind<float, DW> df;
      const VW overflow_bits = hn::IfThenElseZero(
          hn::Ge(hn::Abs(v), hn::Set(dw, 0x1.ffffffp127)), hn::Set(dw, 1));
      const auto overflow =
          hn::Eq(hn::DemoteTo(df, overflow_bits), hn::Set(df, 1));
      const auto narrow = hn::DemoteTo(df, v);
      hn::StoreU(
          hn::IfThenElse(overflow, hn::CopySign(hn::Set(df, HUGE_VALF), narrow),
                         narrow),
          df, p);
    }
    return;
  }
  HWY_ALIGN double buf[kMaxLanes];
  hn::Store(v, dw, buf);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<T>(buf[i]);
}

// hi + lo carries the sum; TwoSum moves each addition's rounding error to lo.
struct CompensatedSum {
  // Not default member initializers: the implicit constructor they would
  // need is compiled without this target's instruction set.
  CompensatedSum() : hi(hn::Zero(DW())), lo(hn::Zero(DW())) {}
  VW hi, lo;

  HWY_INLINE void Add(VW v) {
    const VW s = hn::Add(hi, v);
    const VW bb = hn::Sub(s, hi);
    const VW err = hn::Add(hn::Sub(hi, hn::Sub(s, bb)), hn::Sub(v, bb));
    hi = s;
    lo = hn::Add(lo, err);
  }
  // Per lane, or (along_axis) the sum of all lanes in every lane.
  VW Total(bool along_axis) const {
    const DW dw;
    if (!along_axis) return hn::Add(hi, lo);
    HWY_ALIGN double his[kMaxLanes];
    HWY_ALIGN double los[kMaxLanes];
    hn::Store(hi, dw, his);
    hn::Store(lo, dw, los);
    double s = 0, err = 0;
    for (size_t i = 0; i < hn::Lanes(dw); ++i) {
      const double t = s + his[i];
      const double bb = t - s;
      err += (s - (t - bb)) + (his[i] - bb) + los[i];
      s = t;
    }
    return hn::Set(dw, s + err);
  }
};

// x - m as d_hi + d_lo exactly (TwoSum), and e = exp(x - m) from it. Where
// d_hi is infinite (x = -inf, or x - m overflowing) d_lo is 0 and e is 0.
struct ShiftedExp {
  VW d_hi, d_lo, e;
  MW is_max;  // x == m: d_hi is 0 exactly (distinct floats never round to 0)
};

HWY_INLINE ShiftedExp ExpOfShifted(VW x, VW m) {
  const DW dw;
  const VW neg_m = hn::Neg(m);
  const VW s = hn::Add(x, neg_m);
  const VW bb = hn::Sub(s, x);
  const VW lo = hn::Add(hn::Sub(x, hn::Sub(s, bb)), hn::Sub(neg_m, bb));
  ShiftedExp r;
  r.d_hi = s;
  r.d_lo = hn::IfThenElseZero(hn::IsFinite(s), lo);
  const VW e = hn::CallExp(dw, s);
  r.e = hn::MulAdd(e, r.d_lo, e);
  r.is_max = hn::Eq(s, hn::Zero(dw));
  return r;
}

// What the output pass needs about each slice (broadcast across the lanes of
// one slice when along_axis).
struct SliceStats {
  VW max;
  MW bad;       // NaN, +inf or only -inf: the slice's outputs are all NaN
  VW count;     // c: elements equal to the max
  VW rest;      // R: sum of exp(x - max) over the others
  VW sum;       // S = c + R
  MW dominant;  // c == 1: the max element's y is 1 - R / S
  // Backward only, sums over the max elements and over the others of
  // g * e (softmax) or of g (log_softmax).
  VW g_max, g_rest;
};

enum class GradSum { kNone, kTimesExp, kPlain };

template <GradSum kGrad, typename T>
SliceStats ComputeStats(const SliceGroup& g, const T* x, const T* grad) {
  const DW dw;
  SliceStats st;
  // Pass 1: the max, and whether any element is NaN (hn::Max is not
  // consistent across targets about NaN).
  VW m = hn::Set(dw, -kInf);
  MW nan = hn::FirstN(dw, 0);
  for (size_t k = 0; k < g.steps; ++k) {
    const VW v = LoadStep(g, x, k, -kInf);
    m = hn::Max(m, v);
    nan = hn::Or(nan, hn::IsNaN(v));
  }
  if (g.along_axis) {
    m = hn::MaxOfLanes(dw, m);
    nan = hn::FirstN(dw, hn::AllFalse(dw, nan) ? 0 : hn::Lanes(dw));
  }
  st.max = m;
  st.bad = hn::Or(nan, hn::Not(hn::IsFinite(m)));

  // Pass 2: c, R and the gradient sums. Padding lanes read -inf: e = 0.
  VW count = hn::Zero(dw);
  CompensatedSum rest, g_max, g_rest;
  for (size_t k = 0; k < g.steps; ++k) {
    const ShiftedExp se = ExpOfShifted(LoadStep(g, x, k, -kInf), m);
    count = hn::Add(count, hn::IfThenElseZero(se.is_max, hn::Set(dw, 1)));
    rest.Add(hn::IfThenZeroElse(se.is_max, se.e));
    if constexpr (kGrad != GradSum::kNone) {
      const VW gv = LoadStep(g, grad, k, 0);
      const VW term = kGrad == GradSum::kTimesExp ? hn::Mul(gv, se.e) : gv;
      g_max.Add(hn::IfThenElseZero(se.is_max, term));
      g_rest.Add(hn::IfThenZeroElse(se.is_max, term));
    }
  }
  if (g.along_axis) count = hn::SumOfLanes(dw, count);
  st.count = count;
  st.rest = rest.Total(g.along_axis);
  st.sum = hn::Add(count, st.rest);
  st.dominant = hn::Eq(count, hn::Set(dw, 1));
  if constexpr (kGrad != GradSum::kNone) {
    st.g_max = g_max.Total(g.along_axis);
    st.g_rest = g_rest.Total(g.along_axis);
  }
  return st;
}

// log S, with log1p(R) where S = 1 + R is near 1.
HWY_INLINE VW LogSum(const SliceStats& st) {
  const DW dw;
  return hn::IfThenElse(st.dominant, hn::CallLog1p(dw, st.rest),
                        hn::CallLog(dw, st.sum));
}

HWY_INLINE VW NaNIfBad(const SliceStats& st, VW v) {
  return hn::IfThenElse(
      st.bad, hn::Set(DW(), std::numeric_limits<double>::quiet_NaN()), v);
}

template <bool kLog, typename T>
void SoftmaxForward(const T* x, T* y, const SliceShape& s) {
  ForEachSliceGroup(s, [&](const SliceGroup& g) {
    const SliceStats st = ComputeStats<GradSum::kNone>(g, x, x);
    const VW log_sum = kLog ? LogSum(st) : hn::Zero(DW());
    for (size_t k = 0; k < g.steps; ++k) {
      const ShiftedExp se = ExpOfShifted(LoadStep(g, x, k, -kInf), st.max);
      const VW out = kLog ? hn::Add(hn::Sub(se.d_hi, log_sum), se.d_lo)
                          : hn::Div(se.e, st.sum);
      StoreStep(NaNIfBad(st, out), g, y, k);
    }
  });
}

template <bool kLog, typename T>
void SoftmaxBackward(const T* x, const T* grad, T* gx, const SliceShape& s) {
  constexpr GradSum kGrad = kLog ? GradSum::kPlain : GradSum::kTimesExp;
  ForEachSliceGroup(s, [&](const SliceGroup& g) {
    const SliceStats st = ComputeStats<kGrad>(g, x, grad);
    // softmax: D = sum(g y) = (g_max + g_rest) / S.
    // log_softmax: G = sum(g) = g_max + g_rest.
    const VW total = kLog ? hn::Add(st.g_max, st.g_rest)
                          : hn::Div(hn::Add(st.g_max, st.g_rest), st.sum);
    for (size_t k = 0; k < g.steps; ++k) {
      const ShiftedExp se = ExpOfShifted(LoadStep(g, x, k, -kInf), st.max);
      const VW gv = LoadStep(g, grad, k, 0);
      const VW p = hn::Div(se.e, st.sum);
      const MW dominant = hn::And(st.dominant, se.is_max);
      VW out;
      if constexpr (kLog) {
        // g - p G; for the dominant element g (1 - p) - p G_rest, with
        // 1 - p = R / S.
        out = hn::IfThenElse(dominant,
                             hn::Sub(hn::Div(hn::Mul(gv, st.rest), st.sum),
                                     hn::Mul(p, st.g_rest)),
                             hn::NegMulAdd(p, total, gv));
      } else {
        // y (g - D); for the dominant element (e = 1, S = 1 + R)
        // g - D = (g R - g_rest) / S.
        const VW diff = hn::IfThenElse(
            dominant, hn::Div(hn::MulSub(gv, st.rest, st.g_rest), st.sum),
            hn::Sub(gv, total));
        out = hn::Mul(p, diff);
      }
      StoreStep(NaNIfBad(st, out), g, gx, k);
    }
  });
}

// Jacobians, [outer, inner, K, K]. Per slice, p (softmax) and q = 1 - p
// (from R / S for the dominant element) go to float64 rows first.
template <bool kLog, typename T>
void SoftmaxJacobian(const T* x, T* jac, const SliceShape& s) {
  const DW dw;
  const size_t lanes = hn::Lanes(dw);
  const size_t len = s.axis_len;
  std::vector<double> p_lanes(len * lanes), q_lanes(len * lanes);
  // Rounded up to whole vectors: rows are read a vector at a time.
  std::vector<double> p_row((len + lanes - 1) / lanes * lanes), q_row(len);
  ForEachSliceGroup(s, [&](const SliceGroup& g) {
    const SliceStats st = ComputeStats<GradSum::kNone>(g, x, x);
    for (size_t k = 0; k < g.steps; ++k) {
      const ShiftedExp se = ExpOfShifted(LoadStep(g, x, k, -kInf), st.max);
      const VW p = hn::Div(se.e, st.sum);
      const VW q =
          hn::IfThenElse(hn::And(st.dominant, se.is_max),
                         hn::Div(st.rest, st.sum), hn::Sub(hn::Set(dw, 1), p));
      hn::StoreU(NaNIfBad(st, p), dw, p_lanes.data() + k * lanes);
      hn::StoreU(NaNIfBad(st, q), dw, q_lanes.data() + k * lanes);
    }
    // Slice index of lane 0 of this group.
    const size_t first_slice =
        g.along_axis
            ? g.offset / len
            : (g.offset / (len * s.inner)) * s.inner + g.offset % s.inner;
    const size_t slices = g.along_axis ? 1 : g.width;
    for (size_t l = 0; l < slices; ++l) {
      for (size_t j = 0; j < len; ++j) {
        const size_t at = g.along_axis ? j : j * lanes + l;
        p_row[j] = p_lanes[at];
        q_row[j] = q_lanes[at];
      }
      T* out = jac + (first_slice + l) * len * len;
      const SliceGroup row{0, (len + lanes - 1) / lanes, lanes, len, true};
      for (size_t i = 0; i < len; ++i) {
        // softmax: J[i][j] = -p_i p_j, J[i][i] = p_i q_i.
        // log_softmax: J[i][j] = -p_j, J[i][i] = q_i.
        const VW scale = hn::Set(dw, kLog ? -1.0 : -p_row[i]);
        for (size_t k = 0; k < row.steps; ++k) {
          StoreStep(hn::Mul(scale, hn::LoadU(dw, p_row.data() + k * lanes)),
                    row, out + i * len, k);
        }
        out[i * len + i] =
            static_cast<T>(kLog ? q_row[i] : p_row[i] * q_row[i]);
      }
    }
  });
}

}  // namespace softmax_internal
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_SOFTMAX_INL_H_
