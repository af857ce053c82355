#include "server/proto_conversion.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/status_conversion.h"

namespace actserve {
namespace {

v1::ActivationInfo::Kind KindToProto(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kElementwise:
      return v1::ActivationInfo::KIND_ELEMENTWISE;
    case ActivationKind::kAlongAxis:
      return v1::ActivationInfo::KIND_ALONG_AXIS;
    case ActivationKind::kGrouped:
      return v1::ActivationInfo::KIND_GROUPED;
  }
  return v1::ActivationInfo::KIND_UNSPECIFIED;
}

v1::ParameterInfo::Type ParamTypeToProto(ParamId id) {
  if (id == ParamId::kChannelAlpha) {
    return v1::ParameterInfo::TYPE_CHANNEL_TENSOR;
  }
  return IsIntegerParam(id) ? v1::ParameterInfo::TYPE_INTEGER
                            : v1::ParameterInfo::TYPE_REAL;
}

// Decodes a rank-1 tensor of any dtype into doubles.
absl::StatusOr<std::vector<double>> DecodeChannelAlpha(
    const v1::Tensor& tensor) {
  absl::StatusOr<TensorView> view = ValidateTensor(tensor);
  if (!view.ok()) return view.status();
  if (view->shape.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("must have rank 1 (one slope per channel), got rank ",
                     view->shape.size()));
  }
  const size_t n = static_cast<size_t>(view->elements);
  std::vector<double> values(n);
  switch (view->dtype) {
    case DType::kFloat64:
      std::memcpy(values.data(), view->data.data(), n * sizeof(double));
      break;
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kBFloat16: {
      std::vector<float> widened(n);
      if (view->dtype == DType::kFloat32) {
        std::memcpy(widened.data(), view->data.data(), n * sizeof(float));
      } else {
        WidenToFloat32(view->dtype, view->data.data(), widened.data(), n);
      }
      values.assign(widened.begin(), widened.end());
      break;
    }
  }
  return values;
}

}  // namespace

absl::StatusOr<DType> DTypeFromProto(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT32:
      return DType::kFloat32;
    case v1::DTYPE_FLOAT64:
      return DType::kFloat64;
    case v1::DTYPE_FLOAT16:
      return DType::kFloat16;
    case v1::DTYPE_BFLOAT16:
      return DType::kBFloat16;
    case v1::DTYPE_UNSPECIFIED:
      return absl::InvalidArgumentError(
          "dtype: unset (DTYPE_UNSPECIFIED); every tensor must name its "
          "dtype");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dtype: unknown value ", static_cast<int>(dtype)));
  }
}

v1::DType DTypeToProto(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return v1::DTYPE_FLOAT32;
    case DType::kFloat64:
      return v1::DTYPE_FLOAT64;
    case DType::kFloat16:
      return v1::DTYPE_FLOAT16;
    case DType::kBFloat16:
      return v1::DTYPE_BFLOAT16;
  }
  return v1::DTYPE_UNSPECIFIED;
}

absl::StatusOr<Mode> ModeFromProto(v1::Mode mode) {
  switch (mode) {
    case v1::MODE_UNSPECIFIED:
    case v1::MODE_FORWARD:
      return Mode::kForward;
    case v1::MODE_DERIVATIVE:
      return Mode::kDerivative;
    case v1::MODE_BACKWARD:
      return Mode::kBackward;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("mode: unknown value ", static_cast<int>(mode)));
  }
}

v1::Mode ModeToProto(Mode mode) {
  switch (mode) {
    case Mode::kForward:
      return v1::MODE_FORWARD;
    case Mode::kDerivative:
      return v1::MODE_DERIVATIVE;
    case Mode::kBackward:
      return v1::MODE_BACKWARD;
  }
  return v1::MODE_UNSPECIFIED;
}

absl::StatusOr<int64_t> ElementCount(
    const google::protobuf::RepeatedField<int64_t>& shape, DType dtype) {
  int64_t elements = 1;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape[", i, "]: dimension ", shape[i], " is negative"));
    }
    if (__builtin_mul_overflow(elements, shape[i], &elements)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape: the element count overflows int64 at shape[", i, "]"));
    }
  }
  const int64_t itemsize = static_cast<int64_t>(ItemSize(dtype));
  if (elements > std::numeric_limits<int64_t>::max() / itemsize) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape: ", elements, " elements of ", DTypeName(dtype),
                     " overflow an int64 byte count"));
  }
  return elements;
}

absl::StatusOr<TensorView> ValidateTensor(const v1::Tensor& tensor) {
  absl::StatusOr<DType> dtype = DTypeFromProto(tensor.dtype());
  if (!dtype.ok()) return dtype.status();
  absl::StatusOr<int64_t> elements = ElementCount(tensor.shape(), *dtype);
  if (!elements.ok()) return elements.status();
  const int64_t expected_bytes =
      *elements * static_cast<int64_t>(ItemSize(*dtype));
  if (static_cast<int64_t>(tensor.data().size()) != expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data: has ", tensor.data().size(), " bytes, the shape needs ",
        expected_bytes, " (", *elements, " ", DTypeName(*dtype), " elements)"));
  }
  return TensorView{
      *dtype,
      std::vector<int64_t>(tensor.shape().begin(), tensor.shape().end()),
      *elements, tensor.data()};
}

absl::StatusOr<ActivationParams> ParamsFromProto(
    const v1::ActivationSpec& spec) {
  ActivationParams params;
  if (spec.has_alpha()) params.alpha = spec.alpha();
  if (spec.has_beta()) params.beta = spec.beta();
  if (spec.has_axis()) params.axis = spec.axis();
  if (spec.has_pieces()) params.pieces = spec.pieces();
  if (spec.has_min()) params.min = spec.min();
  if (spec.has_max()) params.max = spec.max();
  if (spec.has_threshold()) params.threshold = spec.threshold();
  const v1::Tensor& channel_alpha = spec.channel_alpha();
  // An empty Tensor message means "unset" (the scalar alpha applies).
  const bool empty = channel_alpha.shape().empty() &&
                     channel_alpha.data().empty() &&
                     channel_alpha.dtype() == v1::DTYPE_UNSPECIFIED;
  if (spec.has_channel_alpha() && !empty) {
    absl::StatusOr<std::vector<double>> values =
        DecodeChannelAlpha(channel_alpha);
    if (!values.ok()) return WithContext("channel_alpha", values.status());
    params.channel_alpha = *std::move(values);
  }
  return params;
}

void ActivationInfoToProto(const ActivationDef& def, v1::ActivationInfo* info) {
  info->set_name(std::string(def.name));
  info->set_kind(KindToProto(def.kind));
  for (const ParamDef& param : def.params) {
    v1::ParameterInfo* p = info->add_parameters();
    p->set_name(std::string(ParamName(param.id)));
    p->set_type(ParamTypeToProto(param.id));
    p->set_default_value(param.default_value);
    p->set_description(std::string(param.description));
    p->set_domain(std::string(param.domain));
    p->set_learnable(param.learnable);
    if (param.learnable) {
      info->add_learnable_parameters(std::string(ParamName(param.id)));
    }
  }
  for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
    info->add_modes(ModeToProto(mode));
  }
  info->set_formula(std::string(def.formula));
  info->set_derivative_formula(std::string(def.derivative_formula));
  info->set_description(std::string(def.description));
  info->set_max_ulp_float32(def.accuracy.ulp_f32);
  info->set_max_ulp_float64(def.accuracy.ulp_f64);
  double abs_error_near_roots = 0;
  for (const AbsErrorWindow& window : def.accuracy.abs_error_windows) {
    v1::AbsErrorWindow* w = info->add_abs_error_windows();
    w->set_mode(ModeToProto(window.mode));
    w->set_dtype(DTypeToProto(window.dtype));
    w->set_centre(window.centre);
    w->set_half_width(window.half_width);
    w->set_max_abs_error(window.max_abs_error);
    abs_error_near_roots = std::max(abs_error_near_roots, window.max_abs_error);
  }
  info->set_abs_error_near_roots(abs_error_near_roots);
  info->set_backward_cancel_ulp_float32(def.accuracy.backward_cancel_ulp_f32);
  info->set_backward_cancel_ulp_float64(def.accuracy.backward_cancel_ulp_f64);
}

void ParameterGradientToProto(const ParameterGradient& gradient, DType dtype,
                              v1::ParameterGradient* proto) {
  proto->set_name(gradient.name);
  v1::Tensor* tensor = proto->mutable_gradient();
  tensor->mutable_shape()->Assign(gradient.shape.begin(), gradient.shape.end());
  tensor->set_dtype(DTypeToProto(dtype));
  std::string* data = tensor->mutable_data();
  data->resize(gradient.values.size() * ItemSize(dtype));
  EncodeFromDouble(dtype, gradient.values, data->data());
}

}  // namespace actserve
