#ifndef ACTSERVE_TESTS_CORE_SIMD_TARGETS_H_
#define ACTSERVE_TESTS_CORE_SIMD_TARGETS_H_

#include <cstdint>

#include "gtest/gtest.h"
#include "hwy/targets.h"

namespace actserve::testing {

// Whether the kernels were built for every target Highway compiles by
// default. The staleness checks compare a declared bound with the worst
// error over all targets, which a build for one target (the sanitizer
// builds, HWY_COMPILE_ONLY_STATIC) cannot see.
#ifdef HWY_COMPILE_ONLY_STATIC
inline constexpr bool kEveryTargetCompiled = false;
#else
inline constexpr bool kEveryTargetCompiled = true;
#endif

// Runs `body(target_name)` once per SIMD target compiled into the kernels
// (and supported here), with dynamic dispatch pinned to that target.
template <typename Body>
void ForEachTarget(Body body) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    body(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace actserve::testing

#endif  // ACTSERVE_TESTS_CORE_SIMD_TARGETS_H_
