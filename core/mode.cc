#include "core/mode.h"

namespace actserve {

absl::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kForward:
      return "forward";
    case Mode::kDerivative:
      return "derivative";
    case Mode::kBackward:
      return "backward";
  }
  return "unknown";
}

}  // namespace actserve
