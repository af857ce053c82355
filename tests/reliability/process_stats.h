#ifndef ACTSERVE_TESTS_RELIABILITY_PROCESS_STATS_H_
#define ACTSERVE_TESTS_RELIABILITY_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"

// What /proc says about another process, for checking that a server gives
// back what a load or a fault took.
namespace actserve::testing {

// Sanitizers' allocators keep freed memory in quarantine and add shadow
// memory, so a server's RSS says nothing about its own bounds there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

// Entries in /proc/<pid>/fd.
int OpenFileCount(pid_t pid);
// Threads by name (as /proc truncates them: "default-executo").
std::map<std::string, int> ThreadsByName(pid_t pid);
std::string ToString(const std::map<std::string, int>& threads);
// User plus system CPU time so far (/proc/<pid>/stat).
absl::Duration CpuTime(pid_t pid);

// Polls `value` until it is at most `limit` or `timeout` passes; returns the
// last value seen. Resources come back a moment after the calls that held
// them end.
int WaitUntilAtMost(int (*value)(pid_t), pid_t pid, int limit,
                    absl::Duration timeout);

}  // namespace actserve::testing

#endif  // ACTSERVE_TESTS_RELIABILITY_PROCESS_STATS_H_
