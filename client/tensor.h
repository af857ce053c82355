#ifndef ACTSERVE_CLIENT_TENSOR_H_
#define ACTSERVE_CLIENT_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actserve/v1/actserve.pb.h"
#include "client/npy.h"

namespace actserve::client {

// A tensor whose bytes live elsewhere: in a v1::Tensor, a mapped file.
struct TensorView {
  std::vector<int64_t> shape;
  v1::DType dtype = v1::DTYPE_UNSPECIFIED;
  absl::string_view data;
};
TensorView ViewOf(const v1::Tensor& tensor);
TensorView ViewOf(const NpyView& array);

// Bytes per element; 0 for DTYPE_UNSPECIFIED.
size_t ItemSize(v1::DType dtype);
int64_t ElementCount(const v1::Tensor& tensor);

v1::DType DTypeOf(NpyType type);
// Moves the array's bytes into a Tensor: their layouts are the same.
v1::Tensor TensorFromNpy(NpyArray array);
absl::StatusOr<NpyArray> NpyFromTensor(v1::Tensor tensor);
// The .npy element type of a received dtype.
absl::StatusOr<NpyType> NpyTypeOf(v1::DType dtype);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_TENSOR_H_
