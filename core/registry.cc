#include "core/registry.h"

#include "absl/strings/str_join.h"

namespace actserve {

const std::vector<const ActivationDef*>& AllActivations() {
  static const auto* const kAll = new std::vector<const ActivationDef*>{
#define ACTSERVE_ACTIVATION(Name) &Name##Activation(),
#include "core/activation_list.inc"
#undef ACTSERVE_ACTIVATION
  };
  return *kAll;
}

const ActivationDef* FindActivation(absl::string_view name) {
  for (const ActivationDef* def : AllActivations()) {
    if (def->name == name) return def;
  }
  return nullptr;
}

std::string ActivationNames() {
  return absl::StrJoin(AllActivations(), ", ",
                       [](std::string* out, const ActivationDef* def) {
                         out->append(def->name.data(), def->name.size());
                       });
}

}  // namespace actserve
