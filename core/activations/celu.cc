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
// formula. All in the lane type.
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

// x / alpha = z + zl to beyond working precision, without a division per
// element: z = x (1 / alpha) with the loop-invariant reciprocal is within
// about 2 ULP of the quotient, so the remainder x - z alpha is tiny and one
// fused multiply-add gives it to full relative accuracy (ProductError where
// there is no FMA: x - fl(z alpha) is exact by Sterbenz, and so is the
// product error); zl = remainder / alpha needs no more than a few bits.
template <class D, class V = hn::Vec<D>>
struct CeluArgument {
  CeluArgument(D d, V x, V alpha) {
    using T = hn::TFromD<D>;
    if constexpr (sizeof(T) == 4) {
      // For |alpha| near the smallest normal float the remainder (about
      // 2^-24 |x|) and, without FMA, the partial products of z alpha would be
      // subnormal and inexact; near the largest, 1 / alpha is subnormal and
      // Veltkamp's split of alpha overflows. Scaling x and alpha by 2^64 or
      // 2^-64 (exactly) keeps everything normal; where x overflows so does z,
      // where it underflows z is below 2^-24 (the result is x), and ExpTerms
      // ignores a non-finite zl.
      const V a = hn::Abs(alpha);
      const V scale = hn::IfThenElse(
          hn::Lt(a, hn::Set(d, 0x1p-60f)), hn::Set(d, 0x1p64f),
          hn::IfThenElse(hn::Gt(a, hn::Set(d, 0x1p60f)), hn::Set(d, 0x1p-64f),
                         hn::Set(d, 1.0f)));
      x = hn::Mul(x, scale);
      alpha = hn::Mul(alpha, scale);
    }
    const V inv_alpha = hn::Div(hn::Set(d, T{1}), alpha);
    z = hn::Mul(x, inv_alpha);
#if HWY_NATIVE_FMA
    const V remainder = hn::NegMulAdd(z, alpha, x);
#else
    const V product = hn::Mul(z, alpha);
    const V remainder =
        hn::Sub(hn::Sub(x, product), ProductError(d, z, alpha, product));
#endif
    // NaN where z is infinite (x / tiny alpha); ExpTerms ignores it there.
    zl = hn::Mul(remainder, inv_alpha);
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

struct CeluOp {
  ACTSERVE_NEVER_WIDE
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>& p) const {
    const CeluArgument<D> z(d, x, p.alpha);
    const V y = ExpTerms<D>(d, z.z, z.zl).ScaledExpm1(d, p.alpha);
    return hn::IfThenElse(CeluIsX(d, x, z.z), x, y);
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    const V one = hn::Set(d, hn::TFromD<D>{1});
    const CeluArgument<D> z(d, x, p.alpha);
    const V dy = ExpTerms<D>(d, z.z, z.zl).ScaledExp(d, one);
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), one, dy);
  }
  // g exp(z) in one piece: for alpha < 0, exp(z) overflows (x < -133 at
  // alpha = -1.5 in float) before g exp(z) does.
  template <class D, class V = hn::Vec<D>>
  V Backward(D d, V x, V g, const VecParams<D>& p) const {
    const CeluArgument<D> z(d, x, p.alpha);
    const V gx = ExpTerms<D>(d, z.z, z.zl).ScaledExp(d, g);
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), g, gx);
  }
};

ACTSERVE_DEFINE_ELEMENTWISE_KERNELS(CeluOp)

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
      // 0.3, 3, -0.7, +-1e-30, +-1e38, +-1.2e-38} (dense [-3, 0], [-40, 40]
      // and the whole range), every target: forward 2.5 for alpha > 0,
      // derivative 1.26, backward 1.72 ULP. For alpha < 0 the forward peaks
      // just above z = ln2 / 2, where expm1(z) = 2 (1 + p) - 1 cancels
      // (p ~ -0.29): 3.90 ULP float64 / 3.28 float32 at alpha -1.15 ... -1.2
      // and -1e38 (dense sweeps of z in [0.34, 0.36]); 2.1 at alpha -1.5.
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
      .test_params = {{.alpha = 0.5}, {.alpha = 2}, {.alpha = -1.5}},
  };
  return *def;
}

}  // namespace actserve
#endif  // HWY_ONCE
