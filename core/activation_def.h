#ifndef ACTSERVE_CORE_ACTIVATION_DEF_H_
#define ACTSERVE_CORE_ACTIVATION_DEF_H_

#include <cstddef>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/activation_params.h"
#include "core/dtype.h"
#include "core/mode.h"

namespace actserve {

// The record every activation file fills in. One registry of these drives the
// evaluator, the catalog RPC and the parameterized tests.

enum class ActivationKind {
  kElementwise,  // y_i = f(x_i)
  kAlongAxis,    // each slice along the axis is one vector (softmax)
  kGrouped,      // groups of `pieces` along the axis reduce to one (maxout)
};

enum class ParamId {
  kAlpha,
  kBeta,
  kMin,
  kMax,
  kThreshold,
  kAxis,
  kPieces,
  kChannelAlpha
};

absl::string_view ParamName(ParamId id);
bool IsIntegerParam(ParamId id);

struct ParamDef {
  ParamId id;
  double default_value;
  absl::string_view description;
  // Domain: lower < value (or <=, if lower_inclusive) and value < upper (<=).
  double lower = -std::numeric_limits<double>::max();
  double upper = std::numeric_limits<double>::max();
  bool lower_inclusive = true;
  bool upper_inclusive = true;
  absl::string_view domain;  // the same, for people: "> 0", "finite"
  bool learnable = false;
};

// Kernels on contiguous float / double arrays. `out` may alias `x` or `g`.
template <typename T>
struct ElementwiseKernels {
  void (*forward)(const T* x, T* y, size_t n, const KernelParams& p);
  void (*derivative)(const T* x, T* dy, size_t n, const KernelParams& p);
  // gx = g * f'(x)
  void (*backward)(const T* x, const T* g, T* gx, size_t n,
                   const KernelParams& p);
  // backward's gx (the same bits) and, from the same pass over x and g, the
  // sum over i of g_i * df(x_i)/dtheta for the learnable scalar parameter
  // (prelu's alpha, swish's beta); null when there is none.
  double (*backward_with_param_grad)(const T* x, const T* g, T* gx, size_t n,
                                     const KernelParams& p);
};

// Slices of an array viewed as [outer, axis_len, inner].
struct SliceShape {
  size_t outer;
  size_t axis_len;
  size_t inner;
  size_t pieces;  // maxout group size; 1 otherwise
  // The output is too large to stay in cache (see KernelParams): softmax's
  // forward writes rows along the axis with non-temporal stores.
  bool stream_output = false;
};

// Output layouts (elements):
//  forward     softmax: like x.  maxout: [outer, axis_len / pieces, inner].
//  derivative  softmax: [outer, inner, axis_len, axis_len] Jacobians
//              (J[i][j] = dy_i / dx_j). maxout: 0/1 winner mask like x.
//  backward    g is shaped like the forward output; gx like x.
template <typename T>
struct AxisKernels {
  void (*forward)(const T* x, T* y, const SliceShape& s);
  void (*derivative)(const T* x, T* d, const SliceShape& s);
  void (*backward)(const T* x, const T* g, T* gx, const SliceShape& s);
};

// High-precision references the tests hold the kernels to.
struct ElementwiseReference {
  long double (*forward)(long double x, const KernelParams& p);
  long double (*derivative)(long double x, const KernelParams& p);
  // df/dtheta of the learnable parameter; null when there is none.
  long double (*param_derivative)(long double x, const KernelParams& p);
};

// One contiguous slice of length k (inner = 1), same layouts as AxisKernels.
struct AxisReference {
  void (*forward)(const long double* x, long double* y, size_t k,
                  size_t pieces);
  void (*derivative)(const long double* x, long double* d, size_t k,
                     size_t pieces);
  void (*backward)(const long double* x, const long double* g, long double* gx,
                   size_t k, size_t pieces);
};

// Where f' crosses zero its relative error is meaningless: within
// half_width of centre (a root of f' at default parameters) a result may
// miss the ULP bound if it is within max_abs_error of f' (derivative) or
// max_abs_error |g| of g f' (backward). Measured per mode and dtype (float32
// also covers float16 and bfloat16, computed in float32); the sweep test
// keeps each window no wider than the numerics need.
struct AbsErrorWindow {
  Mode mode;
  DType dtype;
  double centre;
  double half_width;
  double max_abs_error;
};

// Measured worst error over the whole finite range of x and of the upstream
// gradient g, every mode, outside the windows.
struct AccuracyBound {
  double ulp_f32;
  double ulp_f64;
  std::vector<AbsErrorWindow> abs_error_windows;
  // Axis functions' backward gx_j = sum_i g_i J[i][j] cancels where g_j is
  // near the slice's weighted mean of g; an absolute error of up to this
  // many ULP of the terms' scale sum_i |g_i J[i][j]| is accepted on top of
  // ulp_f32 / ulp_f64 (relative error is meaningless once the exact result
  // is far below the terms).
  double backward_cancel_ulp_f32 = 0;
  double backward_cancel_ulp_f64 = 0;
};

// Hand-checked values at default parameters: signed zeros, infinities, NaN,
// tails where the seed overflows or flushes to zero.
struct SpecialValue {
  double x;
  double forward;
  double derivative;
};

struct ActivationDef {
  absl::string_view name;
  ActivationKind kind;
  std::vector<ParamDef> params;
  absl::string_view formula;
  absl::string_view derivative_formula;
  absl::string_view description;
  AccuracyBound accuracy;
  // Checks across parameters (hardtanh: min < max); null when none.
  absl::Status (*validate)(const KernelParams& p) = nullptr;

  // kElementwise fills these:
  ElementwiseKernels<float> f32{};
  ElementwiseKernels<double> f64{};
  ElementwiseReference reference{};
  std::vector<SpecialValue> special_values;

  // kAlongAxis and kGrouped fill these:
  AxisKernels<float> axis_f32{};
  AxisKernels<double> axis_f64{};
  AxisReference axis_reference{};

  // Non-default parameter sets the tests also sweep.
  std::vector<ActivationParams> test_params;

  const ParamDef* FindParam(ParamId id) const {
    for (const ParamDef& p : params) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }
};

}  // namespace actserve

#endif  // ACTSERVE_CORE_ACTIVATION_DEF_H_
