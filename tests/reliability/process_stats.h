#ifndef ACTSERVE_TESTS_RELIABILITY_PROCESS_STATS_H_
#define ACTSERVE_TESTS_RELIABILITY_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "tests/server/server_process.h"  // kSanitizedBuild

// What /proc says about another process, for checking that a server gives
// back what a load or a fault took.
namespace actserve::testing {

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
