#include "tests/reliability/process_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace actserve::testing {
namespace {

std::string ReadProcFile(pid_t pid, const char* name) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/", name));
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace

int OpenFileCount(pid_t pid) {
  std::error_code error;
  int count = 0;
  for (std::filesystem::directory_iterator it(
           absl::StrCat("/proc/", pid, "/fd"), error);
       !error && it != std::filesystem::directory_iterator();
       it.increment(error)) {
    ++count;
  }
  return count;
}

std::map<std::string, int> ThreadsByName(pid_t pid) {
  std::map<std::string, int> counts;
  std::error_code error;
  for (std::filesystem::directory_iterator it(
           absl::StrCat("/proc/", pid, "/task"), error);
       !error && it != std::filesystem::directory_iterator();
       it.increment(error)) {
    std::ifstream comm(it->path() / "comm");
    std::string name;
    std::getline(comm, name);
    ++counts[name];
  }
  return counts;
}

std::string ToString(const std::map<std::string, int>& threads) {
  std::string names;
  for (const auto& [name, count] : threads) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", name, " x", count);
  }
  return names;
}

absl::Duration CpuTime(pid_t pid) {
  // Fields after the command name, which is in parentheses and may hold
  // spaces: utime and stime are the 12th and 13th of them.
  const std::string stat = ReadProcFile(pid, "stat");
  const std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InfiniteDuration();
  }
  return absl::Seconds(static_cast<double>(utime + stime) /
                       static_cast<double>(sysconf(_SC_CLK_TCK)));
}

int WaitUntilAtMost(int (*value)(pid_t), pid_t pid, int limit,
                    absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  int current = value(pid);
  while (current > limit && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(50));
    current = value(pid);
  }
  return current;
}

}  // namespace actserve::testing
