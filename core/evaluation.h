#ifndef ACTSERVE_CORE_EVALUATION_H_
#define ACTSERVE_CORE_EVALUATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/activation_def.h"
#include "core/activation_params.h"
#include "core/dtype.h"
#include "core/mode.h"
#include "core/thread_pool.h"

namespace actserve {

// Limits that protect the process; the server exposes each as a flag.
struct EvaluationLimits {
  // Elements of one input tensor.
  int64_t max_elements = int64_t{1} << 31;
  // Elements of one derivative Jacobian output (softmax, log_softmax).
  int64_t max_jacobian_elements = int64_t{1} << 24;
};

// What the caller asks for: one activation, one mode, one input tensor.
struct EvaluationRequest {
  std::string activation;
  ActivationParams params;
  Mode mode = Mode::kForward;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // empty: a scalar
};

// Gradient of one learnable parameter, summed in double.
struct ParameterGradient {
  std::string name;            // "alpha" or "beta"
  std::vector<int64_t> shape;  // [channels] or [] (scalar)
  std::vector<double> values;  // product(shape) sums
};

// A validated evaluation of one tensor. The input is processed in "units":
// one element for elementwise functions, one whole outer slice (axis length x
// inner size elements) for functions along an axis. A stream can feed any
// whole number of units at a time; Run on consecutive unit ranges produces
// exactly the bytes one Run over the whole tensor would.
class Evaluation {
 public:
  // Checks everything about the request; errors are InvalidArgument (naming
  // the offending field) or ResourceExhausted (over a limit).
  static absl::StatusOr<Evaluation> Create(const EvaluationRequest& request,
                                           const EvaluationLimits& limits = {});

  const ActivationDef& activation() const { return *def_; }
  Mode mode() const { return mode_; }
  DType dtype() const { return dtype_; }
  // Parameters with defaults applied (per-channel slopes aside).
  const KernelParams& kernel_params() const { return kernel_params_; }
  const std::vector<int64_t>& input_shape() const { return input_shape_; }
  const std::vector<int64_t>& output_shape() const { return output_shape_; }
  // Shape grad_output must have in backward mode (the forward output's shape).
  const std::vector<int64_t>& grad_shape() const { return grad_shape_; }
  int64_t input_elements() const { return units_ * input_unit_; }
  int64_t output_elements() const { return units_ * output_unit_; }
  int64_t grad_elements() const { return units_ * grad_unit_; }

  int64_t units() const { return units_; }
  int64_t input_unit() const { return input_unit_; }    // x elements per unit
  int64_t output_unit() const { return output_unit_; }  // out elements per unit
  int64_t grad_unit() const { return grad_unit_; }  // grad elements per unit

  // Runs writing this many output bytes or more store them with
  // non-temporal stores (the bits are the same): elementwise functions, and
  // the softmax forwards along the last axis; half types, per-channel prelu
  // and parameter gradients keep cached stores. Measured on the development
  // VM (32 MiB L3) with a relu-like float32 loop in 16 Ki blocks, streamed
  // against cached stores: 0.65x at 4 MiB of output, even at 16 MiB, 1.15x
  // at 32 MiB and 1.22x at 64 MiB.
  static constexpr int64_t kStreamOutputBytes = int64_t{16} << 20;

  // Work is split in blocks of this many units, aligned to the tensor's
  // start. Parameter gradients of Runs over ranges that begin on block
  // boundaries are bitwise those of one Run over the whole tensor.
  int64_t block_units() const;

  // Zeroed accumulators for the learnable parameters (empty when there are
  // none or the mode is not backward). Run adds into them.
  std::vector<ParameterGradient> NewParameterGradients() const;

  // Computes units [first_unit, first_unit + count). `x` points at their
  // input elements, `grad_output` at their grad elements (backward only,
  // else null), `out` at room for their output elements; all in dtype().
  // Elementwise functions allow `out` to alias `x` or `grad_output`.
  // Work is split over `pool` in blocks of fixed size, so the result is
  // bitwise the same for any number of threads.
  absl::Status Run(int64_t first_unit, int64_t count, const void* x,
                   const void* grad_output, void* out,
                   std::vector<ParameterGradient>* param_grads,
                   ThreadPool& pool = ThreadPool::Shared()) const;

  // The whole tensor at once.
  absl::Status RunAll(const void* x, const void* grad_output, void* out,
                      std::vector<ParameterGradient>* param_grads,
                      ThreadPool& pool = ThreadPool::Shared()) const {
    return Run(0, units_, x, grad_output, out, param_grads, pool);
  }

 private:
  Evaluation() = default;

  template <typename T>
  void RunElementwise(int64_t first, int64_t count, const void* x,
                      const void* g, void* out,
                      std::vector<ParameterGradient>* grads,
                      ThreadPool& pool) const;
  template <typename T>
  void RunAxis(int64_t first, int64_t count, const void* x, const void* g,
               void* out, ThreadPool& pool) const;
  template <typename T>
  void RunAxisKernel(const AxisKernels<T>& k, const SliceShape& s, const T* x,
                     const T* g, T* out) const;

  const ActivationDef* def_ = nullptr;
  Mode mode_ = Mode::kForward;
  DType dtype_ = DType::kFloat32;
  KernelParams kernel_params_;
  std::vector<double> channel_alpha_;  // prelu per-channel slopes
  std::vector<int64_t> input_shape_, output_shape_, grad_shape_;
  // Input viewed as [outer, axis_len, inner]; elementwise: [n, 1, 1].
  int64_t outer_ = 0, axis_len_ = 1, inner_ = 1, pieces_ = 1;
  int64_t units_ = 0, input_unit_ = 1, output_unit_ = 1, grad_unit_ = 1;
};

}  // namespace actserve

#endif  // ACTSERVE_CORE_EVALUATION_H_
