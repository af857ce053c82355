#include "client/tensor.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace actserve::client {

size_t ItemSize(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT16:
    case v1::DTYPE_BFLOAT16:
      return 2;
    case v1::DTYPE_FLOAT32:
      return 4;
    case v1::DTYPE_FLOAT64:
      return 8;
    default:
      return 0;
  }
}

int64_t ElementCount(const v1::Tensor& tensor) {
  int64_t count = 1;
  for (int64_t dim : tensor.shape()) count *= dim;
  return count;
}

v1::Tensor TensorFromNpy(NpyArray array) {
  v1::Tensor tensor;
  tensor.mutable_shape()->Add(array.shape.begin(), array.shape.end());
  switch (array.type) {
    case NpyType::kFloat16:
      tensor.set_dtype(v1::DTYPE_FLOAT16);
      break;
    case NpyType::kFloat32:
      tensor.set_dtype(v1::DTYPE_FLOAT32);
      break;
    case NpyType::kFloat64:
      tensor.set_dtype(v1::DTYPE_FLOAT64);
      break;
    case NpyType::kBFloat16:
      tensor.set_dtype(v1::DTYPE_BFLOAT16);
      break;
  }
  *tensor.mutable_data() = std::move(array.data);
  return tensor;
}

absl::StatusOr<NpyType> NpyTypeOf(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT16:
      return NpyType::kFloat16;
    case v1::DTYPE_FLOAT32:
      return NpyType::kFloat32;
    case v1::DTYPE_FLOAT64:
      return NpyType::kFloat64;
    case v1::DTYPE_BFLOAT16:
      return NpyType::kBFloat16;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("the server sent an unknown dtype ", dtype));
  }
}

absl::StatusOr<NpyArray> NpyFromTensor(v1::Tensor tensor) {
  absl::StatusOr<NpyType> type = NpyTypeOf(tensor.dtype());
  if (!type.ok()) return type.status();
  NpyArray array;
  array.type = *type;
  array.shape.assign(tensor.shape().begin(), tensor.shape().end());
  array.data = std::move(*tensor.mutable_data());
  return array;
}

}  // namespace actserve::client
