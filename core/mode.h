#ifndef ACTSERVE_CORE_MODE_H_
#define ACTSERVE_CORE_MODE_H_

#include "absl/strings/string_view.h"

namespace actserve {

// kDerivative is the seed's f'(x); kBackward is the vector-Jacobian product
// used in training, plus gradients of learnable parameters.
enum class Mode { kForward, kDerivative, kBackward };

absl::string_view ModeName(Mode mode);

}  // namespace actserve

#endif  // ACTSERVE_CORE_MODE_H_
