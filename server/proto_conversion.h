#ifndef ACTSERVE_SERVER_PROTO_CONVERSION_H_
#define ACTSERVE_SERVER_PROTO_CONVERSION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actserve/v1/actserve.pb.h"
#include "core/activation_def.h"
#include "core/activation_params.h"
#include "core/dtype.h"
#include "core/evaluation.h"
#include "core/mode.h"
#include "google/protobuf/repeated_field.h"

// Protobuf <-> core types. Everything the server receives passes through these
// checks before the core sees it; errors are InvalidArgument with a message
// that names the offending field relative to the message passed in (callers
// prefix the path with WithContext, e.g. "inputs[2]").
namespace actserve {

absl::StatusOr<DType> DTypeFromProto(v1::DType dtype);
v1::DType DTypeToProto(DType dtype);

// MODE_UNSPECIFIED means forward.
absl::StatusOr<Mode> ModeFromProto(v1::Mode mode);
v1::Mode ModeToProto(Mode mode);

// Product of the dimensions; rejects negative dimensions and products (or
// byte counts) that overflow int64.
absl::StatusOr<int64_t> ElementCount(
    const google::protobuf::RepeatedField<int64_t>& shape, DType dtype);

// A checked Tensor message: its bytes stay where they are.
struct TensorView {
  DType dtype;
  std::vector<int64_t> shape;
  int64_t elements;
  absl::string_view data;
};
absl::StatusOr<TensorView> ValidateTensor(const v1::Tensor& tensor);

// The spec's parameters as the core takes them; channel_alpha is decoded from
// its dtype. Parameter domains are the core's to check.
absl::StatusOr<ActivationParams> ParamsFromProto(
    const v1::ActivationSpec& spec);

void ActivationInfoToProto(const ActivationDef& def, v1::ActivationInfo* info);

// Sums are kept in double by the core; the wire carries the input's dtype.
void ParameterGradientToProto(const ParameterGradient& gradient, DType dtype,
                              v1::ParameterGradient* proto);

}  // namespace actserve

#endif  // ACTSERVE_SERVER_PROTO_CONVERSION_H_
