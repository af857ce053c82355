// Loops shared by the elementwise activations, compiled once per SIMD target
// (include from a translation unit that uses hwy/foreach_target.h).
//
// An activation supplies an Op with generic member templates, instantiated
// for float and double vectors:
//   Vec<D> Forward(D d, Vec<D> x, const VecParams<D>& p) const;
//   Vec<D> Derivative(D d, Vec<D> x, const VecParams<D>& p) const;
//   Vec<D> Backward(D d, Vec<D> x, Vec<D> g, const VecParams<D>& p) const;
//   Mask<D> NeedsWide(D d, Vec<D> x, const VecParams<D>& p) const;
//     float32 lanes whose float32 formula would miss the accuracy bound
//     (tails, subnormal results); only those lanes are recomputed in float64.
//     Backward also recomputes there every lane whose f' is subnormal while
//     |g| > 1 (MaybeSubnormalSlope, MattersForSlope).
// optionally, for float64 Ops whose f' underflows in a tail,
//   Vec<D> TailBackward(D d, Vec<D> x, Vec<D> g, const VecParams<D>& p) const;
//     g f'(x) in the lanes those pick (f' below the smallest
//     normal double, 1 < |g| < inf), without rounding f' on its own.
// and, for a learnable scalar parameter theta,
//   Vec<D> ParamPartial(D d, Vec<D> x, const VecParams<D>& p) const;
//     df/dtheta.
//
// Every element, including the partial vectors at either end of an array,
// goes through the same vector code, and each lane's result depends on its
// own inputs only, so its bits never depend on where a block boundary falls
// or where vectors start.

#if defined(ACTSERVE_CORE_KERNELS_ELEMENTWISE_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_ELEMENTWISE_INL_H_
#undef ACTSERVE_CORE_KERNELS_ELEMENTWISE_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_ELEMENTWISE_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/activation_params.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// KernelParams broadcast to vectors of the lane type.
template <class D>
struct VecParams {
  using T = hn::TFromD<D>;
  VecParams(D d, const KernelParams& p)
      : alpha(hn::Set(d, static_cast<T>(p.alpha))),
        beta(hn::Set(d, static_cast<T>(p.beta))),
        min(hn::Set(d, static_cast<T>(p.min))),
        max(hn::Set(d, static_cast<T>(p.max))),
        threshold(hn::Set(d, static_cast<T>(p.threshold))) {}
  hn::Vec<D> alpha, beta, min, max, threshold;
};

enum class EvalKind { kForward, kDerivative, kBackward };

// NaN in gives NaN out in every mode, whatever the Op's formula does with it
// (Highway's Exp, for one, maps NaN to 0).
template <EvalKind kKind, class Op, class D, class V = hn::Vec<D>>
HWY_INLINE V EvalOp(const Op& op, D d, V x, V g, const VecParams<D>& p) {
  V y;
  if constexpr (kKind == EvalKind::kForward) {
    y = op.Forward(d, x, p);
  } else if constexpr (kKind == EvalKind::kDerivative) {
    y = op.Derivative(d, x, p);
  } else {
    y = hn::IfThenElse(hn::IsNaN(g), g, op.Backward(d, x, g, p));
  }
  return hn::IfThenElse(hn::IsNaN(x), x, y);
}

// Recomputes one float32 vector in float64, half a vector at a time.
template <EvalKind kKind, class Op, class D, class V = hn::Vec<D>>
HWY_NOINLINE V EvalWide(const Op& op, D d, V x, V g,
                        const KernelParams& params) {
  hn::ScalableTag<double> dw;
  hn::Rebind<float, decltype(dw)> dn;
  const VecParams<decltype(dw)> pw(dw, params);
  constexpr size_t kMax = HWY_MAX_BYTES / sizeof(float);
  HWY_ALIGN float xs[kMax];
  HWY_ALIGN float gs[kMax];
  HWY_ALIGN float ys[kMax];
  hn::Store(x, d, xs);
  hn::Store(g, d, gs);
  HWY_ALIGN double wide[HWY_MAX_BYTES / sizeof(double)];
  const size_t n = hn::Lanes(d);
  for (size_t i = 0; i < n; i += hn::Lanes(dw)) {
    const auto xw = hn::PromoteTo(dw, hn::LoadU(dn, xs + i));
    const auto gw = hn::PromoteTo(dw, hn::LoadU(dn, gs + i));
    hn::Store(EvalOp<kKind>(op, dw, xw, gw, pw), dw, wide);
    // Scalar rounding: Highway 1.0.3's SCALAR DemoteTo clamps overflow to
    // FLT_MAX instead of rounding to inf. This path is rare.
    for (size_t j = 0; j < hn::Lanes(dw); ++j) {
      ys[i + j] = static_cast<float>(wide[j]);
    }
  }
  return hn::Load(d, ys);
}

// Backward lanes where f'(x) may be below T's smallest normal (there it has
// lost relative accuracy, or is 0): told by the result itself,
// |g f'| < |g| T_min, so Ops need no threshold of their own. Four operations
// per vector; the rare hits are narrowed by MattersForSlope.
template <class D, class V = hn::Vec<D>>
HWY_INLINE hn::Mask<D> MaybeSubnormalSlope(D d, V g, V gx) {
  using T = hn::TFromD<D>;
  const V min_normal = hn::Set(d, std::numeric_limits<T>::min());
  return hn::Lt(hn::Abs(gx), hn::Mul(hn::Abs(g), min_normal));
}

// Of those, the lanes where 1 < |g| < inf could lift g f' back into the
// normal range: only there does rounding f' first cost accuracy.
template <class D, class V = hn::Vec<D>>
HWY_INLINE hn::Mask<D> MattersForSlope(D d, V g) {
  using T = hn::TFromD<D>;
  const V abs_g = hn::Abs(g);
  return hn::And(hn::Gt(abs_g, hn::Set(d, T{1})),
                 hn::Lt(abs_g, hn::Set(d, std::numeric_limits<T>::infinity())));
}

template <EvalKind kKind, class Op, class D, class V = hn::Vec<D>>
HWY_INLINE V EvalChecked(const Op& op, D d, V x, V g, const VecParams<D>& p,
                         const KernelParams& params) {
  V y = EvalOp<kKind>(op, d, x, g, p);
  constexpr bool kSmoothBackward = kKind == EvalKind::kBackward && !requires {
    Op::kPiecewiseLinear;
  };
  if constexpr (std::is_same_v<hn::TFromD<D>, float>) {
    auto wide = op.NeedsWide(d, x, p);
    if constexpr (kSmoothBackward) {
      const auto slope = MaybeSubnormalSlope(d, g, y);
      if (HWY_UNLIKELY(!hn::AllFalse(d, hn::Or(wide, slope)))) {
        // In float64 such a slope is normal: g f' rounds once.
        wide = hn::Or(wide, hn::And(slope, MattersForSlope(d, g)));
        y = hn::IfThenElse(wide, EvalWide<kKind>(op, d, x, g, params), y);
      }
    } else if (HWY_UNLIKELY(!hn::AllFalse(d, wide))) {
      y = hn::IfThenElse(wide, EvalWide<kKind>(op, d, x, g, params), y);
    }
  } else if constexpr (kSmoothBackward &&
                       requires { op.TailBackward(d, x, g, p); }) {
    const auto slope = MaybeSubnormalSlope(d, g, y);
    if (HWY_UNLIKELY(!hn::AllFalse(d, slope))) {
      y = hn::IfThenElse(hn::And(slope, MattersForSlope(d, g)),
                         op.TailBackward(d, x, g, p), y);
    }
  }
  return y;
}

// out = fn(x vector, g vector) over the array. Partial vectors (the tail,
// and with kStream a head up to the first vector-aligned element of out) go
// through the same code on zero-padded copies; every lane's result depends on
// its own x and g only, so where vectors start never changes the bits.
// kStream (outputs larger than the cache) stores whole vectors with
// non-temporal stores, which need aligned addresses. fn has a single call
// site: inlined twice, large Ops (swish's backward with its parameter
// partial) outgrow GCC's inlining limits and run 1.4x slower. Each vector is
// loaded before its result is stored, so `out` may alias x or g. g is all
// zeros unless kLoadG.
template <bool kLoadG, bool kStream, class D, typename T, class Fn>
HWY_INLINE void ForEachVector(D d, const T* x, const T* g, T* out, size_t n,
                              Fn fn) {
  constexpr size_t kMax = HWY_MAX_BYTES / sizeof(T);
  HWY_ALIGN T xs[kMax];
  HWY_ALIGN T gs[kMax];
  const size_t lanes = hn::Lanes(d);
  const size_t vector_bytes = lanes * sizeof(T);
  const size_t misaligned = reinterpret_cast<uintptr_t>(out) % vector_bytes;
  // A template parameter: the mere option to stream slows some cached loops
  // (sigmoid's backward by a third).
  const bool stream = kStream && misaligned % sizeof(T) == 0;
  const size_t head =
      stream ? (vector_bytes - misaligned) % vector_bytes / sizeof(T) : 0;
  for (size_t i = 0; i < n;) {
    const size_t m = HWY_MIN(i == 0 && head != 0 ? head : lanes, n - i);
    const bool partial = m < lanes;
    if (HWY_UNLIKELY(partial)) {
      // Zeroed by vector stores: GCC 12 turns `= {}` on these arrays into
      // MMX moves (no EMMS), which corrupts later x87 long double math.
      hn::Store(hn::Zero(d), d, xs);
      std::memcpy(xs, x + i, m * sizeof(T));
      if (kLoadG) {
        hn::Store(hn::Zero(d), d, gs);
        std::memcpy(gs, g + i, m * sizeof(T));
      }
    }
    const auto xv = hn::LoadU(d, partial ? xs : x + i);
    const auto gv = kLoadG ? hn::LoadU(d, partial ? gs : g + i) : hn::Zero(d);
    const auto y = fn(xv, gv);
    if (HWY_UNLIKELY(partial)) {
      hn::Store(y, d, xs);
      std::memcpy(out + i, xs, m * sizeof(T));
    } else if (stream) {
      hn::Stream(y, d, out + i);
    } else {
      hn::StoreU(y, d, out + i);
    }
    i += m;
  }
  // Makes the streamed lines visible before the pool reports this block
  // done.
  if (stream) hwy::FlushStream();
}

// out[i] = f(x[i]), f'(x[i]) or g[i] * f'(x[i]), stored with non-temporal
// stores if kStream. `out` may alias x or g.
template <EvalKind kKind, class Op, bool kStream, typename T>
HWY_NOINLINE void ElementwiseLoopStoring(const T* x, const T* g, T* out,
                                         size_t n, const KernelParams& params) {
  const Op op;
  hn::ScalableTag<T> d;
  const VecParams<decltype(d)> p(d, params);
  ForEachVector<kKind == EvalKind::kBackward, kStream>(
      d, x, g, out, n, [&](hn::Vec<decltype(d)> xv, hn::Vec<decltype(d)> gv) {
        return EvalChecked<kKind>(op, d, xv, gv, p, params);
      });
}

// loop(std::bool_constant<stream>()): streaming is a template parameter of
// the loops (see ForEachVector), chosen here once per call. Each loop it
// picks should be a function of its own (HWY_NOINLINE), so that no function
// holds fn inlined twice.
template <class Loop>
HWY_INLINE auto WithStreaming(bool stream, Loop loop) {
  return stream ? loop(std::true_type()) : loop(std::false_type());
}

// out[i] = f(x[i]), f'(x[i]) or g[i] * f'(x[i]). `out` may alias x or g.
template <EvalKind kKind, class Op, typename T>
void ElementwiseLoop(const T* x, const T* g, T* out, size_t n,
                     const KernelParams& params) {
  WithStreaming(params.stream_output, [&](auto stream) {
    ElementwiseLoopStoring<kKind, Op, decltype(stream)::value>(x, g, out, n,
                                                               params);
  });
}

// fn(a, b) on float64 vectors of the lower, then the upper lanes of float32
// vectors a and b, converted in registers.
template <class DW, class D, class V, class Fn>
HWY_INLINE void ForEachWideHalf(DW dw, D d, V a, V b, Fn fn) {
  (void)d;  // only its type
#if HWY_TARGET == HWY_SCALAR
  fn(hn::PromoteTo(dw, a), hn::PromoteTo(dw, b));
#else
  const hn::Half<D> dh;
  fn(hn::PromoteTo(dw, hn::LowerHalf(dh, a)),
     hn::PromoteTo(dw, hn::LowerHalf(dh, b)));
  fn(hn::PromoteTo(dw, hn::UpperHalf(dh, a)),
     hn::PromoteTo(dw, hn::UpperHalf(dh, b)));
#endif
}

// The sum of g_i p_i (p_i = df(x_i)/dtheta) in float64 lanes, with the
// limits the exact sum has: a term that is infinite because g_i or p_i is
// makes the sum that infinity (NaN if both signs occur), and a product of
// finite g_i and p_i that overflows a double is carried scaled by 2^-600
// instead, so it neither turns into inf (and inf - inf into NaN) nor swamps
// the ordinary terms, whose bits stay those of one fused multiply-add each.
template <class DW, class V = hn::Vec<DW>>
struct ParamGradSum {
  explicit ParamGradSum(DW dw)
      : sum(hn::Zero(dw)), scaled(hn::Zero(dw)), infinite(hn::Zero(dw)) {}
  void Add(DW dw, V g, V partial) {
    const V term = hn::Mul(g, partial);
    // The usual case, one test per vector: every product finite.
    if (HWY_LIKELY(hn::AllTrue(dw, hn::IsFinite(term)))) {
      sum = hn::MulAdd(g, partial, sum);
      return;
    }
    const auto from_infinity = hn::Or(hn::IsInf(g), hn::IsInf(partial));
    const auto overflow = hn::AndNot(from_infinity, hn::IsInf(term));
    const auto special = hn::Or(from_infinity, overflow);
    sum = hn::MulAdd(hn::IfThenZeroElse(special, g),
                     hn::IfThenZeroElse(special, partial), sum);
    infinite = hn::Add(infinite, hn::IfThenElseZero(from_infinity, term));
    scaled = hn::MulAdd(
        hn::IfThenElseZero(overflow, hn::Mul(g, hn::Set(dw, 0x1p-600))),
        hn::IfThenElseZero(overflow, partial), scaled);
  }
  double Total(DW dw) const {
    const double finite = hn::GetLane(hn::SumOfLanes(dw, sum));
    const double big = hn::GetLane(hn::SumOfLanes(dw, scaled));
    const double inf = hn::GetLane(hn::SumOfLanes(dw, infinite));
    // With an infinite term the finite rest does not matter (and its scaled
    // part may overflow on the way back); ordinary sums keep their bits.
    if (inf != 0) return inf;  // +-inf or NaN
    return big == 0 ? finite : (finite * 0x1p-600 + big) * 0x1p600;
  }
  V sum, scaled, infinite;
};

// gx[i] = g[i] * f'(x[i]), the bits ElementwiseLoop<kBackward> writes, and
// returns the sum of g[i] * df(x[i])/dtheta (ParamGradSum), in one pass: each
// vector of x and g is loaded once, so the parameter gradient costs no second
// trip through memory. `gx` may alias x or g.
//
// The sum is always accumulated in float64: these sums run over up to 2^31
// terms. Float32 terms are computed in float64 lanes. Padding lanes of the
// tail have g = 0 and x = 0, where every partial is finite, so they add
// nothing.
template <class Op, typename T>
double BackwardParamGradLoop(const T* x, const T* g, T* gx, size_t n,
                             const KernelParams& params) {
  const Op op;
  hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const VecParams<decltype(d)> p(d, params);
  hn::ScalableTag<double> dw;
  using DW = hn::Vec<decltype(dw)>;
  const VecParams<decltype(dw)> pw(dw, params);
  ParamGradSum<decltype(dw)> sum(dw);
  // Without streaming: vectors start where blocks do, so the lanes of `sum`
  // hold the same terms whatever the alignment of gx.
  ForEachVector</*kLoadG=*/true, /*kStream=*/false>(
      d, x, g, gx, n, [&](V xv, V gv) {
        const V gxv =
            EvalChecked<EvalKind::kBackward>(op, d, xv, gv, p, params);
        if constexpr (std::is_same_v<T, double>) {
          sum.Add(dw, gv, op.ParamPartial(d, xv, p));
          return gxv;
        } else {
          ForEachWideHalf(dw, d, gv, xv, [&](DW gw, DW xw) {
            sum.Add(dw, gw, op.ParamPartial(dw, xw, pw));
          });
          return gxv;
        }
      });
  return sum.Total(dw);
}

// Defines ForwardF32 ... BackwardF64 in the current target namespace from a
// function template Loop<EvalKind kKind>(const T* x, const T* g, T* out,
// size_t n, const KernelParams&) (g null unless backward): for activations
// that choose their loop per call (by parameter value, say).
#define ACTSERVE_DEFINE_ELEMENTWISE_KERNELS_FROM_LOOP(Loop)                    \
  void ForwardF32(const float* x, float* y, size_t n, const KernelParams& p) { \
    Loop<EvalKind::kForward>(x, static_cast<const float*>(nullptr), y, n, p);  \
  }                                                                            \
  void ForwardF64(const double* x, double* y, size_t n,                        \
                  const KernelParams& p) {                                     \
    Loop<EvalKind::kForward>(x, static_cast<const double*>(nullptr), y, n, p); \
  }                                                                            \
  void DerivativeF32(const float* x, float* y, size_t n,                       \
                     const KernelParams& p) {                                  \
    Loop<EvalKind::kDerivative>(x, static_cast<const float*>(nullptr), y, n,   \
                                p);                                            \
  }                                                                            \
  void DerivativeF64(const double* x, double* y, size_t n,                     \
                     const KernelParams& p) {                                  \
    Loop<EvalKind::kDerivative>(x, static_cast<const double*>(nullptr), y, n,  \
                                p);                                            \
  }                                                                            \
  void BackwardF32(const float* x, const float* g, float* y, size_t n,         \
                   const KernelParams& p) {                                    \
    Loop<EvalKind::kBackward>(x, g, y, n, p);                                  \
  }                                                                            \
  void BackwardF64(const double* x, const double* g, double* y, size_t n,      \
                   const KernelParams& p) {                                    \
    Loop<EvalKind::kBackward>(x, g, y, n, p);                                  \
  }

// Defines ForwardF32 ... BackwardF64 in the current target namespace.
#define ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(Op)                                \
  template <EvalKind kKind, typename T>                                        \
  void OpLoop(const T* x, const T* g, T* y, size_t n, const KernelParams& p) { \
    ElementwiseLoop<kKind, Op>(x, g, y, n, p);                                 \
  }                                                                            \
  ACTSERVE_DEFINE_ELEMENTWISE_KERNELS_FROM_LOOP(OpLoop)

// Defines BackwardParamGradF32 / BackwardParamGradF64 for an Op with
// ParamPartial.
#define ACTSERVE_DEFINE_BACKWARD_PARAM_GRAD_KERNELS(Op)                     \
  double BackwardParamGradF32(const float* x, const float* g, float* gx,    \
                              size_t n, const KernelParams& p) {            \
    return BackwardParamGradLoop<Op>(x, g, gx, n, p);                       \
  }                                                                         \
  double BackwardParamGradF64(const double* x, const double* g, double* gx, \
                              size_t n, const KernelParams& p) {            \
    return BackwardParamGradLoop<Op>(x, g, gx, n, p);                       \
  }

// Backward as g * f'(x), for Ops whose gradient has no cheaper form.
#define ACTSERVE_BACKWARD_FROM_DERIVATIVE                  \
  template <class D, class V = hn::Vec<D>>                 \
  V Backward(D d, V x, V g, const VecParams<D>& p) const { \
    return hn::Mul(g, Derivative(d, x, p));                \
  }

// For Ops exact in float32 everywhere.
#define ACTSERVE_NEVER_WIDE                                  \
  template <class D, class V = hn::Vec<D>>                   \
  hn::Mask<D> NeedsWide(D d, V, const VecParams<D>&) const { \
    return hn::FirstN(d, 0);                                 \
  }

// For piecewise-linear Ops: exact in float32, and f' is constant on each
// piece (exactly 0 where it vanishes), so g f' never needs
// MaybeSubnormalSlope's recomputation.
#define ACTSERVE_PIECEWISE_LINEAR                \
  static constexpr bool kPiecewiseLinear = true; \
  ACTSERVE_NEVER_WIDE

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_ELEMENTWISE_INL_H_
