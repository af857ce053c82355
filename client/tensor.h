#ifndef ACTSERVE_CLIENT_TENSOR_H_
#define ACTSERVE_CLIENT_TENSOR_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "actserve/v1/actserve.pb.h"
#include "client/npy.h"

namespace actserve::client {

// Bytes per element; 0 for DTYPE_UNSPECIFIED.
size_t ItemSize(v1::DType dtype);
int64_t ElementCount(const v1::Tensor& tensor);

// Moves the array's bytes into a Tensor: their layouts are the same.
v1::Tensor TensorFromNpy(NpyArray array);
absl::StatusOr<NpyArray> NpyFromTensor(v1::Tensor tensor);
// The .npy element type of a received dtype.
absl::StatusOr<NpyType> NpyTypeOf(v1::DType dtype);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_TENSOR_H_
