#include "client/activation_spec.h"

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/npy.h"
#include "client/tensor.h"

namespace actserve::client {
namespace {

absl::StatusOr<v1::Tensor> ParseChannelAlpha(absl::string_view value) {
  if (absl::EndsWith(value, ".npy")) {
    absl::StatusOr<NpyArray> array =
        ReadNpyFile(std::string(value), /*uint16_as_bfloat16=*/false);
    if (!array.ok()) return array.status();
    return TensorFromNpy(*std::move(array));
  }
  // A comma list travels as float64 so that the values arrive exactly as
  // typed.
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_FLOAT64);
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    double slope;
    if (!absl::SimpleAtod(item, &slope)) {
      return absl::InvalidArgumentError(
          absl::StrCat("channel_alpha: '", item,
                       "' is not a number (give a comma list or a .npy file)"));
    }
    char bytes[sizeof(double)];
    std::memcpy(bytes, &slope, sizeof(slope));
    tensor.mutable_data()->append(bytes, sizeof(bytes));
  }
  tensor.add_shape(tensor.data().size() / sizeof(double));
  return tensor;
}

}  // namespace

absl::StatusOr<v1::ActivationSpec> ParseActivationSpec(
    absl::string_view name, const std::vector<std::string>& params) {
  v1::ActivationSpec spec;
  spec.set_name(std::string(name));
  for (const std::string& param : params) {
    const std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(param, absl::MaxSplits('=', 1));
    const absl::string_view key = kv.first;
    const absl::string_view value = kv.second;
    double real;
    int64_t integer;
    const bool is_real = absl::SimpleAtod(value, &real);
    const bool is_integer = absl::SimpleAtoi(value, &integer);
    auto bad = [&](absl::string_view expected) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param ", param, ": ", key, " takes ", expected));
    };
    if (key == "alpha" || key == "beta" || key == "min" || key == "max" ||
        key == "threshold") {
      if (!is_real) return bad("a number");
      if (key == "alpha") spec.set_alpha(real);
      if (key == "beta") spec.set_beta(real);
      if (key == "min") spec.set_min(real);
      if (key == "max") spec.set_max(real);
      if (key == "threshold") spec.set_threshold(real);
    } else if (key == "axis" || key == "pieces") {
      if (!is_integer) return bad("an integer");
      if (key == "axis") spec.set_axis(integer);
      if (key == "pieces") spec.set_pieces(integer);
    } else if (key == "channel_alpha") {
      absl::StatusOr<v1::Tensor> tensor = ParseChannelAlpha(value);
      if (!tensor.ok()) return tensor.status();
      *spec.mutable_channel_alpha() = *std::move(tensor);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--param ", param,
          ": expected KEY=VALUE with KEY one of alpha, beta, min, max, "
          "threshold, axis, pieces, channel_alpha"));
    }
  }
  return spec;
}

absl::StatusOr<v1::Mode> ParseMode(absl::string_view text) {
  if (text == "forward") return v1::MODE_FORWARD;
  if (text == "derivative") return v1::MODE_DERIVATIVE;
  if (text == "backward") return v1::MODE_BACKWARD;
  return absl::InvalidArgumentError(absl::StrCat(
      "--mode=", text, ": expected forward, derivative or backward"));
}

absl::StatusOr<EvaluationRequest> ParseRequestFlags(
    absl::string_view name, const std::vector<std::string>& params,
    absl::string_view mode) {
  EvaluationRequest request;
  absl::StatusOr<v1::ActivationSpec> spec = ParseActivationSpec(name, params);
  if (!spec.ok()) return spec.status();
  request.activation = *std::move(spec);
  absl::StatusOr<v1::Mode> parsed_mode = ParseMode(mode);
  if (!parsed_mode.ok()) return parsed_mode.status();
  request.mode = *parsed_mode;
  return request;
}

}  // namespace actserve::client
