#include "core/dtype.h"

#include <cmath>
#include <cstring>

#include "absl/base/casts.h"

namespace actserve {
namespace {

// Bit-exact binary16 conversions in plain integer code: portable, and the
// compiler vectorizes these loops.
float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return absl::bit_cast<float>(sign | absl::bit_cast<uint32_t>(magnitude));
  }
  if (exponent == 31) {  // inf or NaN (payload kept)
    return absl::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  }
  return absl::bit_cast<float>(sign | ((exponent + 112) << 23) |
                               (mantissa << 13));
}

uint16_t FloatToHalf(float f) {
  const uint32_t bits = absl::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) {  // NaN: stays a quiet NaN
    return sign | 0x7E00u | static_cast<uint16_t>((magnitude >> 13) & 0x1FFu);
  }
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // rounds to inf
  if (magnitude >= 0x38800000u) {  // normal binary16: round mantissa to even
    const uint32_t odd = (magnitude >> 13) & 1u;
    const uint32_t rounded = magnitude + 0xFFFu + odd;
    return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
  }
  // Subnormal: 0.5f has an ulp of 2^-24, the binary16 subnormal step, so the
  // float addition rounds to nearest even for us.
  const float shifted = absl::bit_cast<float>(magnitude) + 0.5f;
  return sign |
         static_cast<uint16_t>(absl::bit_cast<uint32_t>(shifted) - 0x3F000000u);
}

float BFloat16ToFloat(uint16_t b) {
  return absl::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

uint16_t FloatToBFloat16(float f) {
  const uint32_t bits = absl::bit_cast<uint32_t>(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
  }
  const uint32_t odd = (bits >> 16) & 1u;
  return static_cast<uint16_t>((bits + 0x7FFFu + odd) >> 16);
}

}  // namespace

size_t ItemSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
      return 8;
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
  }
  return 0;
}

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
  }
  return "unknown";
}

void WidenToFloat32(DType dtype, const void* src, float* dst, size_t count) {
  const auto* in = static_cast<const uint16_t*>(src);
  if (dtype == DType::kFloat16) {
    for (size_t i = 0; i < count; ++i) dst[i] = HalfToFloat(in[i]);
  } else {
    for (size_t i = 0; i < count; ++i) dst[i] = BFloat16ToFloat(in[i]);
  }
}

void NarrowFromFloat32(DType dtype, const float* src, void* dst, size_t count) {
  auto* out = static_cast<uint16_t*>(dst);
  if (dtype == DType::kFloat16) {
    for (size_t i = 0; i < count; ++i) out[i] = FloatToHalf(src[i]);
  } else {
    for (size_t i = 0; i < count; ++i) out[i] = FloatToBFloat16(src[i]);
  }
}

void EncodeFromDouble(DType dtype, absl::Span<const double> src, void* dst) {
  switch (dtype) {
    case DType::kFloat64:
      std::memcpy(dst, src.data(), src.size() * sizeof(double));
      return;
    case DType::kFloat32: {
      auto* out = static_cast<float*>(dst);
      for (size_t i = 0; i < src.size(); ++i) {
        out[i] = static_cast<float>(src[i]);
      }
      return;
    }
    case DType::kFloat16:
    case DType::kBFloat16:
      for (size_t i = 0; i < src.size(); ++i) {
        const float f = static_cast<float>(src[i]);
        NarrowFromFloat32(dtype, &f, static_cast<uint16_t*>(dst) + i, 1);
      }
      return;
  }
}

}  // namespace actserve
