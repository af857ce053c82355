#ifndef ACTSERVE_CORE_ACTIVATION_PARAMS_H_
#define ACTSERVE_CORE_ACTIVATION_PARAMS_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace actserve {

// Parameters as the user gave them; unset means the activation's default.
// Setting a parameter the activation does not have is an error.
struct ActivationParams {
  std::optional<double> alpha;
  std::optional<double> beta;
  std::optional<double> min;
  std::optional<double> max;
  std::optional<double> threshold;
  std::optional<int64_t> axis;
  std::optional<int64_t> pieces;
  // prelu: one slope per channel; empty means the scalar alpha.
  std::vector<double> channel_alpha;
};

// Parameters with defaults applied and domains checked: what kernels see.
// float32 kernels round them to float, as PyTorch casts scalar parameters to
// the tensor's dtype.
struct KernelParams {
  double alpha = 0;
  double beta = 0;
  double min = 0;
  double max = 0;
  double threshold = 0;
  // Not a parameter: the call's output is too large to stay in cache until
  // anyone reads it, so kernels write it with non-temporal stores (no read
  // for ownership of each output line: a third less memory traffic).
  bool stream_output = false;
};

}  // namespace actserve

#endif  // ACTSERVE_CORE_ACTIVATION_PARAMS_H_
