#include "core/dtype.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "absl/base/casts.h"
#include "gtest/gtest.h"

namespace actserve {
namespace {

uint16_t ToHalf(DType dtype, float f) {
  uint16_t h;
  NarrowFromFloat32(dtype, &f, &h, 1);
  return h;
}

float FromHalf(DType dtype, uint16_t h) {
  float f;
  WidenToFloat32(dtype, &h, &f, 1);
  return f;
}

// Every non-NaN half value survives widen + narrow bit for bit.
TEST(DTypeTest, HalfTypesRoundTripExhaustively) {
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
      const float f = FromHalf(dtype, static_cast<uint16_t>(bits));
      if (std::isnan(f)) {
        EXPECT_TRUE(std::isnan(FromHalf(dtype, ToHalf(dtype, f))));
        continue;
      }
      ASSERT_EQ(ToHalf(dtype, f), bits) << DTypeName(dtype) << " " << f;
    }
  }
}

// Narrowing rounds to the nearest representable value, ties to even: checked
// against the two neighbours of every random float.
TEST(DTypeTest, NarrowingRoundsToNearestEven) {
  std::mt19937 rng(9);
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    for (int i = 0; i < 200000; ++i) {
      const float f = absl::bit_cast<float>(static_cast<uint32_t>(rng()));
      if (std::isnan(f)) continue;
      const uint16_t h = ToHalf(dtype, f);
      const double got = FromHalf(dtype, h);
      if (std::isinf(got)) {
        // Only values past the largest finite half (by at least half an ulp).
        const double max = dtype == DType::kFloat16 ? 65504.0 : 3.3895314e38;
        EXPECT_GE(std::fabs(f), max) << f;
        continue;
      }
      const double err = std::fabs(got - static_cast<double>(f));
      for (int step : {-1, 1}) {
        const uint16_t other = static_cast<uint16_t>(h + step);
        const double alt = FromHalf(dtype, other);
        if (std::isnan(alt) || std::isinf(alt)) continue;
        const double alt_err = std::fabs(alt - static_cast<double>(f));
        EXPECT_LE(err, alt_err) << DTypeName(dtype) << " " << f;
        if (err == alt_err) {
          EXPECT_EQ(h & 1, 0) << "tie must go to even";
        }
      }
    }
  }
}

TEST(DTypeTest, SpecialValues) {
  EXPECT_EQ(ToHalf(DType::kFloat16, 65520.0f), 0x7C00);  // rounds to inf
  EXPECT_EQ(ToHalf(DType::kFloat16, 65519.0f), 0x7BFF);
  EXPECT_EQ(ToHalf(DType::kFloat16, -0.0f), 0x8000);
  EXPECT_EQ(ToHalf(DType::kFloat16, 0x1p-25f), 0x0000);    // tie to even (0)
  EXPECT_EQ(ToHalf(DType::kFloat16, 0x1.8p-24f), 0x0002);  // tie to even
  EXPECT_EQ(FromHalf(DType::kFloat16, 0x0001), 0x1p-24f);
  EXPECT_EQ(ToHalf(DType::kBFloat16, 1.0f + 0x1p-8f), 0x3F80);  // tie: even
  EXPECT_EQ(ToHalf(DType::kBFloat16, 1.0f + 0x1.8p-7f), 0x3F82);
}

TEST(DTypeTest, EncodeFromDouble) {
  const std::vector<double> src = {1.5, -2.25, 1e-50};
  std::vector<float> f(3);
  EncodeFromDouble(DType::kFloat32, src, f.data());
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.25f, 0.0f}));
  std::vector<uint16_t> h(3);
  EncodeFromDouble(DType::kBFloat16, src, h.data());
  EXPECT_EQ(FromHalf(DType::kBFloat16, h[1]), -2.25f);
}

}  // namespace
}  // namespace actserve
