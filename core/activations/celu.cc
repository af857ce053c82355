// celu: y = x for x > 0, alpha (exp(x / alpha) - 1) for x <= 0;
//       y' = 1 for x > 0, exp(x / alpha) for x <= 0,
// as PyTorch's max(0, x) + min(0, alpha (exp(x / alpha) - 1)), alpha != 0:
// for alpha < 0 the x <= 0 branch grows like -|alpha| exp(|x| / |alpha|)
// (and overflows to -inf where that passes the largest finite value).
//
// z = x / alpha is rounded, and exp amplifies its rounding error by |z|
// (alpha < 0: up to 88 times half an ULP before float overflow; near 0, a
// full half ULP of the result). The error is recovered exactly: the remainder
// x - z alpha of a correctly rounded division is representable, so one fused
// multiply-add gives it (ProductError where there is no FMA), and
// zl = remainder / alpha; ExpTerms evaluates alpha expm1(z + zl) and
// exp(z + zl) with it. Where |z| < 2^-24 (float) / 2^-53 (double), alpha
// expm1(x / alpha) = x (1 + z / 2 + ...) rounds to x itself; taking x there
// also keeps subnormal z (x / alpha rounded to a coarse grid) out of the
// formula. 1 / alpha and the scaling of extreme alphas are computed once per
// array (own loop), and alpha > 0 (z <= 0 wherever it matters) skips
// ExpTerms' overflow handling. All in the lane type.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations/celu.cc"
// clang-format off: foreach_target.h re-includes this file once per target and
// must come before everything else.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "core/kernels/elementwise-inl.h"
#include "core/kernels/exp_terms-inl.h"
#include "core/kernels/product_error-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {
namespace {

// Per-call constants of x / alpha = z + zl, computed once per array rather
// than per vector (a division per vector costs as much as the rest of the
// argument). z = x (1 / alpha) with the rounded reciprocal is within about
// 2 ULP of the quotient, so the remainder x - z alpha is tiny and one fused
// multiply-add gives it to full relative accuracy (ProductError where there
// is no FMA: x - fl(z alpha) is exact by Sterbenz, and so is the product
// error); zl = remainder / alpha needs no more than a few bits.
template <class D, class V = hn::Vec<D>>
struct CeluConstants {
  CeluConstants(D d, const KernelParams& p) {
    using T = hn::TFromD<D>;
    const T a = static_cast<T>(p.alpha);
    T s = 1;
    if constexpr (sizeof(T) == 4) {
      // For |alpha| near the smallest normal float the remainder (about
      // 2^-24 |x|) and, without FMA, the partial products of z alpha would be
      // subnormal and inexact; near the largest, 1 / alpha is subnormal and
      // Veltkamp's split of alpha overflows. Scaling x and alpha by 2^64 or
      // 2^-64 (exactly) keeps everything normal; where x overflows so does z,
      // where it underflows z is below 2^-24 (the result is x), and ExpTerms
      // ignores a non-finite zl.
      const T abs_a = a < 0 ? -a : a;
      s = abs_a < 0x1p-60f ? 0x1p64f : abs_a > 0x1p60f ? 0x1p-64f : 1.0f;
    }
    alpha = hn::Set(d, a);
    scale = hn::Set(d, s);
    scaled_alpha = hn::Set(d, a * s);
    inv_alpha = hn::Set(d, T{1} / (a * s));
  }
  V alpha, scale, scaled_alpha, inv_alpha;
};

template <class D, class V = hn::Vec<D>>
struct CeluArgument {
  CeluArgument(D d, V x, const CeluConstants<D>& c) {
    x = hn::Mul(x, c.scale);
    z = hn::Mul(x, c.inv_alpha);
#if HWY_NATIVE_FMA
    (void)d;
    const V remainder = hn::NegMulAdd(z, c.scaled_alpha, x);
#else
    const V product = hn::Mul(z, c.scaled_alpha);
    const V remainder = hn::Sub(hn::Sub(x, product),
                                ProductError(d, z, c.scaled_alpha, product));
#endif
    // NaN where z is infinite (x / tiny alpha); ExpTerms ignores it there.
    zl = hn::Mul(remainder, c.inv_alpha);
  }
  V z, zl;
};

// Lanes where the result is x: x > 0, or x / alpha too small to matter.
template <class D, class V = hn::Vec<D>>
hn::Mask<D> CeluIsX(D d, V x, V z) {
  using T = hn::TFromD<D>;
  const V tiny = hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 0x1p-24 : 0x1p-53));
  return hn::Or(hn::Gt(x, hn::Zero(d)), hn::Lt(hn::Abs(z), tiny));
}

// kPositiveAlpha: z = x / alpha <= 0 wherever the x <= 0 branch is taken,
// so ExpTerms needs no provision for overflow.
template <bool kPositiveAlpha, class D, class V = hn::Vec<D>>
class CeluOp {
 public:
  CeluOp(D d, const KernelParams& p) : c_(d, p) {}

  V Forward(D d, V x, const VecParams<D>&) const {
    const CeluArgument<D> z(d, x, c_);
    const V y = Terms(d, z).ScaledExpm1(d, c_.alpha);
    return hn::IfThenElse(CeluIsX(d, x, z.z), x, y);
  }
  V Derivative(D d, V x, const VecParams<D>&) const {
    const V one = hn::Set(d, hn::TFromD<D>{1});
    const V dy = Terms(d, CeluArgument<D>(d, x, c_)).ScaledExp(d, one);
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), one, dy);
  }
  // g exp(z) in one piece: for alpha < 0, exp(z) overflows (x < -133 at
  // alpha = -1.5 in float) before g exp(z) does.
  V Backward(D d, V x, V g, const VecParams<D>&) const {
    const V gx = Terms(d, CeluArgument<D>(d, x, c_)).ScaledExp(d, g);
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), g, gx);
  }

 private:
  static ExpTerms<D, kPositiveAlpha> Terms(D d, const CeluArgument<D>& z) {
    return ExpTerms<D, kPositiveAlpha>(d, z.z, z.zl);
  }
  CeluConstants<D> c_;
};

template <EvalKind kKind, bool kPositiveAlpha, bool kStream, typename T>
HWY_NOINLINE void CeluLoopFor(const T* x, const T* g, T* y, size_t n,
                              const KernelParams& params) {
  hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const VecParams<decltype(d)> p(d, params);
  const CeluOp<kPositiveAlpha, decltype(d)> op(d, params);
  ForEachVector<kKind == EvalKind::kBackward, kStream>(
      d, x, g, y, n,
      [&](V xv, V gv) { return EvalOp<kKind>(op, d, xv, gv, p); });
}

// The usual alpha > 0 skips ExpTerms' overflow handling.
template <EvalKind kKind, typename T>
void CeluLoop(const T* x, const T* g, T* y, size_t n, const KernelParams& p) {
  WithStreaming(p.stream_output, [&](auto stream) {
    constexpr bool kStream = decltype(stream)::value;
    if (p.alpha > 0) {
      CeluLoopFor<kKind, true, kStream>(x, g, y, n, p);
    } else {
      CeluLoopFor<kKind, false, kStream>(x, g, y, n, p);
    }
  });
}
ACTSERVE_DEFINE_ELEMENTWISE_KERNELS_FROM_LOOP(CeluLoop)

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/kernels/elementwise_export.h"
#include "core/registry.h"

namespace actserve {
namespace {

ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(nullptr, nullptr)

long double RefForward(long double x, const KernelParams& p) {
  return x > 0 ? x : p.alpha * std::expm1(x / p.alpha);
}
long double RefDerivative(long double x, const KernelParams& p) {
  return x > 0 ? 1 : std::exp(x / p.alpha);
}

// The kernels divide by alpha, in float32 too: alpha must stay a normal
// float32 there (a subnormal or zero one gives x / alpha = inf).
absl::Status Validate(const KernelParams& p) {
  if (std::fabs(p.alpha) >= std::numeric_limits<float>::min()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("activation.alpha: ", p.alpha,
                   " is outside its domain (nonzero, |alpha| >= ",
                   std::numeric_limits<float>::min(),
                   ": float32 kernels divide by it as a normal float32)"));
}

}  // namespace

const ActivationDef& CeluActivation() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  static const ActivationDef* const def = new ActivationDef{
      .name = "celu",
      .kind = ActivationKind::kElementwise,
      .params = {{.id = ParamId::kAlpha,
                  .default_value = 1,
                  .description = "Scale of the x <= 0 branch: saturates at "
                                 "-alpha for alpha > 0.",
                  .lower = -kFloatMax,
                  .upper = kFloatMax,
                  .domain = "nonzero, 1.2e-38 <= |alpha| <= 3.4e38 (a normal "
                            "float32)"}},
      .formula = "x if x > 0 else alpha * (exp(x / alpha) - 1)",
      .derivative_formula = "1 if x > 0 else exp(x / alpha)",
      .description =
          "Continuously differentiable exponential linear unit "
          "(elu with the slope 1 at 0 for every alpha).",
      // Measured max over 5M points per dtype and alpha in {1, 0.5, 2, -1.5,
      // 0.3, 3, -0.7, +-1e-30, +-1e38, +-1.2e-38, -1.15, -1.2} (dense [-3, 0],
      // [-40, 40], [-1e4, 1e4] and the whole range), every target: forward
      // 2.31 for alpha > 0, derivative 1.26, backward 1.69 ULP. For alpha < 0
      // the forward peaks just above z = ln2 / 2, where
      // expm1(z) = 2 (1 + p) - 1 cancels (p ~ -0.29): dense sweeps of z in
      // [0.34, 0.36] at alpha -1.15, -1.2, -1.5 and -1e38 give 3.98 ULP
      // float64 / 3.74 float32 without FMA (SSE4, SSSE3, scalar), 3.92 / 3.26
      // with it.
      // This test's sweep (upstream gradients of every magnitude, the tails
      // where f' underflows, every target) measures forward 2.00, derivative
      // 1.11, backward 1.42 ULP in float32 and 1.94, 1.11, 1.51 in float64.
      .accuracy = {.ulp_f32 = 4, .ulp_f64 = 4},
      .validate = &Validate,
      .f32 = ElementwiseKernelsF32(),
      .f64 = ElementwiseKernelsF64(),
      .reference = {&RefForward, &RefDerivative, nullptr},
      // Expected values from mpmath (40 digits), alpha = 1.
      .special_values = {{0.0, 0.0, 1},
                         {-0.0, -0.0, 1},
                         {kInf, kInf, 1},
                         {-kInf, -1, 0},
                         {kNaN, kNaN, kNaN},
                         {1, 1, 1},
                         {-1, -0.63212055882855768, 0.36787944117144232},
                         {-1e-3, -0.00099950016662500833, 0.99900049983337499},
                         {-0.3, -0.25918177931828213, 0.74081822068171787},
                         {-20, -0.99999999793884638, 2.0611536224385578e-9},
                         {-100, -1, 3.720075976020836e-44},
                         {-1e-30, -1e-30, 1}},
      .test_params = {{.alpha = 0.5},
                      {.alpha = 2},
                      {.alpha = -1.5},
                      {.alpha = -1.2}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
