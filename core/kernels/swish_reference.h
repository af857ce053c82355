#ifndef ACTSERVE_CORE_KERNELS_SWISH_REFERENCE_H_
#define ACTSERVE_CORE_KERNELS_SWISH_REFERENCE_H_

#include <cmath>

namespace actserve {

// long double references for swish (silu at beta = 1), z = beta x.
// f' = e (1 + z + e) / (1 + e)^2 for z < 0 with e = exp(z); the sum cancels
// at z0 = -1 - W(1/e), so there it is h + e^{z0} expm1(h) with h = z - z0
// (z0 split in two long doubles), exact up to rounding.
inline long double SwishReference(long double x, long double beta) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  const long double z = beta * x;
  const long double e = std::exp(-std::fabs(z));
  return z >= 0 ? x / (1 + e) : x * e / (1 + e);
}

inline long double SwishDerivativeReference(long double x, long double beta) {
  if (std::isinf(x)) return x > 0 ? 1 : 0;
  const long double z = beta * x;
  const long double e = std::exp(-std::fabs(z));
  const long double d = (1 + e) * (1 + e);
  if (z >= 0) return (1 + e * (1 + z)) / d;
  constexpr long double kRootHi = -1.278464542761073795143836L;
  constexpr long double kRootLo = 3.447759010157353024824e-20L;
  constexpr long double kExpRoot = 0.2784645427610737951093587L;
  // beta x of two doubles needs up to 106 bits: its rounding error (exact by
  // fmal) matters next to the root, where h is small.
  const long double z_low = std::fma(beta, x, -z);
  const long double h = (z - kRootHi) + (z_low - kRootLo);
  const long double n =
      std::fabs(h) < 0.5L ? h + kExpRoot * std::expm1(h) : 1 + z + e;
  return e * n / d;
}

}  // namespace actserve

#endif  // ACTSERVE_CORE_KERNELS_SWISH_REFERENCE_H_
