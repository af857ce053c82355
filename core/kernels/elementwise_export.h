#ifndef ACTSERVE_CORE_KERNELS_ELEMENTWISE_EXPORT_H_
#define ACTSERVE_CORE_KERNELS_ELEMENTWISE_EXPORT_H_

// Runtime dispatch for kernels defined with ACTSERVE_DEFINE_ELEMENTWISE_KERNELS
// (core/kernels/elementwise-inl.h). Use under `#if HWY_ONCE`, in the same
// (anonymous) namespace nesting as the per-target code, minus HWY_NAMESPACE.

#include "core/activation_def.h"
#include "hwy/highway.h"

// Defines ElementwiseKernelsF32() and ElementwiseKernelsF64().
#define ACTSERVE_EXPORT_ELEMENTWISE_KERNELS(backward_param_grad_f32,           \
                                            backward_param_grad_f64)           \
  HWY_EXPORT(ForwardF32);                                                      \
  HWY_EXPORT(ForwardF64);                                                      \
  HWY_EXPORT(DerivativeF32);                                                   \
  HWY_EXPORT(DerivativeF64);                                                   \
  HWY_EXPORT(BackwardF32);                                                     \
  HWY_EXPORT(BackwardF64);                                                     \
  template <typename T>                                                        \
  void DispatchForward(const T* x, T* y, size_t n, const KernelParams& p) {    \
    if constexpr (sizeof(T) == 4) {                                            \
      HWY_DYNAMIC_DISPATCH(ForwardF32)(x, y, n, p);                            \
    } else {                                                                   \
      HWY_DYNAMIC_DISPATCH(ForwardF64)(x, y, n, p);                            \
    }                                                                          \
  }                                                                            \
  template <typename T>                                                        \
  void DispatchDerivative(const T* x, T* y, size_t n, const KernelParams& p) { \
    if constexpr (sizeof(T) == 4) {                                            \
      HWY_DYNAMIC_DISPATCH(DerivativeF32)(x, y, n, p);                         \
    } else {                                                                   \
      HWY_DYNAMIC_DISPATCH(DerivativeF64)(x, y, n, p);                         \
    }                                                                          \
  }                                                                            \
  template <typename T>                                                        \
  void DispatchBackward(const T* x, const T* g, T* y, size_t n,                \
                        const KernelParams& p) {                               \
    if constexpr (sizeof(T) == 4) {                                            \
      HWY_DYNAMIC_DISPATCH(BackwardF32)(x, g, y, n, p);                        \
    } else {                                                                   \
      HWY_DYNAMIC_DISPATCH(BackwardF64)(x, g, y, n, p);                        \
    }                                                                          \
  }                                                                            \
  ElementwiseKernels<float> ElementwiseKernelsF32() {                          \
    return {&DispatchForward<float>, &DispatchDerivative<float>,               \
            &DispatchBackward<float>, backward_param_grad_f32};                \
  }                                                                            \
  ElementwiseKernels<double> ElementwiseKernelsF64() {                         \
    return {&DispatchForward<double>, &DispatchDerivative<double>,             \
            &DispatchBackward<double>, backward_param_grad_f64};               \
  }

// For activations with a learnable scalar parameter: defines the dispatchers
// DispatchBackwardParamGradF32 / F64 to pass to
// ACTSERVE_EXPORT_ELEMENTWISE_KERNELS.
#define ACTSERVE_EXPORT_BACKWARD_PARAM_GRAD_KERNELS()                   \
  HWY_EXPORT(BackwardParamGradF32);                                     \
  HWY_EXPORT(BackwardParamGradF64);                                     \
  double DispatchBackwardParamGradF32(const float* x, const float* g,   \
                                      float* gx, size_t n,              \
                                      const KernelParams& p) {          \
    return HWY_DYNAMIC_DISPATCH(BackwardParamGradF32)(x, g, gx, n, p);  \
  }                                                                     \
  double DispatchBackwardParamGradF64(const double* x, const double* g, \
                                      double* gx, size_t n,             \
                                      const KernelParams& p) {          \
    return HWY_DYNAMIC_DISPATCH(BackwardParamGradF64)(x, g, gx, n, p);  \
  }

#endif  // ACTSERVE_CORE_KERNELS_ELEMENTWISE_EXPORT_H_
