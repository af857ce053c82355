#ifndef ACTSERVE_CORE_REGISTRY_H_
#define ACTSERVE_CORE_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/activation_def.h"

namespace actserve {

// Every activation, in catalog order (core/activation_list.inc).
const std::vector<const ActivationDef*>& AllActivations();
// Null when the name is unknown.
const ActivationDef* FindActivation(absl::string_view name);
// "identity, sigmoid, ..." for error messages.
std::string ActivationNames();

#define ACTSERVE_ACTIVATION(Name) const ActivationDef& Name##Activation();
#include "core/activation_list.inc"
#undef ACTSERVE_ACTIVATION

}  // namespace actserve

#endif  // ACTSERVE_CORE_REGISTRY_H_
