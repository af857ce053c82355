#include "core/activation_def.h"

namespace actserve {

absl::string_view ParamName(ParamId id) {
  switch (id) {
    case ParamId::kAlpha:
      return "alpha";
    case ParamId::kBeta:
      return "beta";
    case ParamId::kMin:
      return "min";
    case ParamId::kMax:
      return "max";
    case ParamId::kThreshold:
      return "threshold";
    case ParamId::kAxis:
      return "axis";
    case ParamId::kPieces:
      return "pieces";
    case ParamId::kChannelAlpha:
      return "channel_alpha";
  }
  return "unknown";
}

bool IsIntegerParam(ParamId id) {
  return id == ParamId::kAxis || id == ParamId::kPieces;
}

}  // namespace actserve
