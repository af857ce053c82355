#ifndef ACTSERVE_CORE_DTYPE_H_
#define ACTSERVE_CORE_DTYPE_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace actserve {

// Element types the core accepts. Half types are computed in float32.
enum class DType { kFloat32, kFloat64, kFloat16, kBFloat16 };

size_t ItemSize(DType dtype);
absl::string_view DTypeName(DType dtype);

// Widens `count` half-precision elements (kFloat16 or kBFloat16) to float32.
void WidenToFloat32(DType dtype, const void* src, float* dst, size_t count);
// Rounds float32 to the half type, to nearest even; NaN stays NaN.
void NarrowFromFloat32(DType dtype, const float* src, void* dst, size_t count);
// Writes doubles as `dtype` elements (parameter gradients are summed in
// double).
void EncodeFromDouble(DType dtype, absl::Span<const double> src, void* dst);

}  // namespace actserve

#endif  // ACTSERVE_CORE_DTYPE_H_
