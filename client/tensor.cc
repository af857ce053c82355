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

v1::DType DTypeOf(NpyType type) {
  switch (type) {
    case NpyType::kFloat16:
      return v1::DTYPE_FLOAT16;
    case NpyType::kFloat32:
      return v1::DTYPE_FLOAT32;
    case NpyType::kFloat64:
      return v1::DTYPE_FLOAT64;
    case NpyType::kBFloat16:
      return v1::DTYPE_BFLOAT16;
  }
  return v1::DTYPE_UNSPECIFIED;
}

TensorView ViewOf(const v1::Tensor& tensor) {
  return TensorView{{tensor.shape().begin(), tensor.shape().end()},
                    tensor.dtype(),
                    tensor.data()};
}

TensorView ViewOf(const NpyView& array) {
  return TensorView{array.shape, DTypeOf(array.type), array.data};
}

v1::Tensor TensorFromNpy(NpyArray array) {
  v1::Tensor tensor;
  tensor.mutable_shape()->Add(array.shape.begin(), array.shape.end());
  tensor.set_dtype(DTypeOf(array.type));
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
