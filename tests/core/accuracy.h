#ifndef ACTSERVE_TESTS_CORE_ACCURACY_H_
#define ACTSERVE_TESTS_CORE_ACCURACY_H_

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"

namespace actserve::testing {

// Distance between T values near `ref`, never below T's smallest subnormal.
template <typename T>
long double UlpOf(long double ref) {
  const long double magnitude = std::fabs(ref);
  const long double min_normal = std::numeric_limits<T>::min();
  if (magnitude < min_normal) return std::numeric_limits<T>::denorm_min();
  const int exponent = std::ilogb(magnitude);
  return std::ldexp(1.0L, exponent - (std::numeric_limits<T>::digits - 1));
}

// Error of `got` against the exact `ref`, in ULP of T; 0 when both are the
// same NaN/inf, infinity when they disagree in kind.
template <typename T>
long double UlpError(T got, long double ref) {
  if (std::isnan(ref) || std::isnan(got)) {
    return std::isnan(ref) && std::isnan(got)
               ? 0
               : std::numeric_limits<long double>::infinity();
  }
  // A finite reference beyond T's range must round to inf.
  const long double rounded = static_cast<T>(ref);
  if (std::isinf(rounded) || std::isinf(got)) {
    return rounded == got ? 0 : std::numeric_limits<long double>::infinity();
  }
  return std::fabs(static_cast<long double>(got) - ref) / UlpOf<T>(ref);
}

// memcmp for buffers that may be empty (an empty vector's data() may be null,
// which memcmp does not allow).
inline bool SameBytes(const void* a, const void* b, size_t bytes) {
  return bytes == 0 || std::memcmp(a, b, bytes) == 0;
}

}  // namespace actserve::testing

#endif  // ACTSERVE_TESTS_CORE_ACCURACY_H_
