// y = x for x > 0, alpha * x otherwise: the Op of leaky_relu, and of prelu,
// which adds the gradient of its learnable alpha. Per target, like
// elementwise-inl.h.
//
// Selects and one multiply in the input type, at memory speed. The x <= 0
// branch holds at 0, as in the seed and PyTorch, so f'(0) = alpha.

#if defined(ACTSERVE_CORE_KERNELS_LEAKY_SLOPE_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef ACTSERVE_CORE_KERNELS_LEAKY_SLOPE_INL_H_
#undef ACTSERVE_CORE_KERNELS_LEAKY_SLOPE_INL_H_
#else
#define ACTSERVE_CORE_KERNELS_LEAKY_SLOPE_INL_H_
#endif

#include "core/kernels/elementwise-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace actserve {
namespace HWY_NAMESPACE {

struct LeakySlopeOp {
  ACTSERVE_PIECEWISE_LINEAR
  template <class D, class V = hn::Vec<D>>
  V Forward(D d, V x, const VecParams<D>& p) const {
    // alpha = 0 is relu: its limit at -inf is 0, not 0 * -inf = NaN.
    const V negative =
        hn::IfThenElseZero(hn::Ne(p.alpha, hn::Zero(d)), hn::Mul(p.alpha, x));
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), x, negative);
  }
  template <class D, class V = hn::Vec<D>>
  V Derivative(D d, V x, const VecParams<D>& p) const {
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), hn::Set(d, 1), p.alpha);
  }
  template <class D, class V = hn::Vec<D>>
  V Backward(D d, V x, V g, const VecParams<D>& p) const {
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), g, hn::Mul(g, p.alpha));
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace actserve
HWY_AFTER_NAMESPACE();

#endif  // ACTSERVE_CORE_KERNELS_LEAKY_SLOPE_INL_H_
