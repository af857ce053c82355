#ifndef ACTSERVE_CORE_KERNELS_AXIS_KERNELS_H_
#define ACTSERVE_CORE_KERNELS_AXIS_KERNELS_H_

// Runtime dispatch for the kernels along an axis (softmax, log_softmax,
// maxout), the same recipe as core/kernels/elementwise_export.h.

#include "core/activation_def.h"
#include "hwy/highway.h"

// Inside the per-target namespace, after templates
//   template <typename T> void Forward(const T* x, T* y, const SliceShape&);
//   template <typename T> void Derivative(const T* x, T* d, const SliceShape&);
//   template <typename T>
//   void Backward(const T* x, const T* g, T* gx, const SliceShape&);
// defines their float / double instances for HWY_EXPORT.
#define ACTSERVE_DEFINE_AXIS_KERNELS                                    \
  void ForwardF32(const float* x, float* y, const SliceShape& s) {      \
    Forward(x, y, s);                                                   \
  }                                                                     \
  void ForwardF64(const double* x, double* y, const SliceShape& s) {    \
    Forward(x, y, s);                                                   \
  }                                                                     \
  void DerivativeF32(const float* x, float* d, const SliceShape& s) {   \
    Derivative(x, d, s);                                                \
  }                                                                     \
  void DerivativeF64(const double* x, double* d, const SliceShape& s) { \
    Derivative(x, d, s);                                                \
  }                                                                     \
  void BackwardF32(const float* x, const float* g, float* gx,           \
                   const SliceShape& s) {                               \
    Backward(x, g, gx, s);                                              \
  }                                                                     \
  void BackwardF64(const double* x, const double* g, double* gx,        \
                   const SliceShape& s) {                               \
    Backward(x, g, gx, s);                                              \
  }

// Under `#if HWY_ONCE`, in the same (anonymous) namespace nesting as the
// per-target code minus HWY_NAMESPACE: defines AxisKernelsF32() and
// AxisKernelsF64().
#define ACTSERVE_EXPORT_AXIS_KERNELS()                                        \
  HWY_EXPORT(ForwardF32);                                                     \
  HWY_EXPORT(ForwardF64);                                                     \
  HWY_EXPORT(DerivativeF32);                                                  \
  HWY_EXPORT(DerivativeF64);                                                  \
  HWY_EXPORT(BackwardF32);                                                    \
  HWY_EXPORT(BackwardF64);                                                    \
  template <typename T>                                                       \
  void DispatchForward(const T* x, T* y, const SliceShape& s) {               \
    if constexpr (sizeof(T) == 4) {                                           \
      HWY_DYNAMIC_DISPATCH(ForwardF32)(x, y, s);                              \
    } else {                                                                  \
      HWY_DYNAMIC_DISPATCH(ForwardF64)(x, y, s);                              \
    }                                                                         \
  }                                                                           \
  template <typename T>                                                       \
  void DispatchDerivative(const T* x, T* d, const SliceShape& s) {            \
    if constexpr (sizeof(T) == 4) {                                           \
      HWY_DYNAMIC_DISPATCH(DerivativeF32)(x, d, s);                           \
    } else {                                                                  \
      HWY_DYNAMIC_DISPATCH(DerivativeF64)(x, d, s);                           \
    }                                                                         \
  }                                                                           \
  template <typename T>                                                       \
  void DispatchBackward(const T* x, const T* g, T* gx, const SliceShape& s) { \
    if constexpr (sizeof(T) == 4) {                                           \
      HWY_DYNAMIC_DISPATCH(BackwardF32)(x, g, gx, s);                         \
    } else {                                                                  \
      HWY_DYNAMIC_DISPATCH(BackwardF64)(x, g, gx, s);                         \
    }                                                                         \
  }                                                                           \
  AxisKernels<float> AxisKernelsF32() {                                       \
    return {&DispatchForward<float>, &DispatchDerivative<float>,              \
            &DispatchBackward<float>};                                        \
  }                                                                           \
  AxisKernels<double> AxisKernelsF64() {                                      \
    return {&DispatchForward<double>, &DispatchDerivative<double>,            \
            &DispatchBackward<double>};                                       \
  }

#endif  // ACTSERVE_CORE_KERNELS_AXIS_KERNELS_H_
