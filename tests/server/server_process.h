#ifndef ACTSERVE_TESTS_SERVER_SERVER_PROCESS_H_
#define ACTSERVE_TESTS_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

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

// The actserve binary as a child process, for what only a real process
// shows: ports, signals, exit codes, its own memory.
class ServerProcess {
 public:
  // Starts the binary with `args`, plus `env` ("NAME=value") on top of this
  // process's environment. stdout and stderr go to files.
  ServerProcess(const std::vector<std::string>& args,
                const std::vector<std::string>& env = {});
  // Kills the process if it still runs.
  ~ServerProcess();

  // Waits until it prints where it listens; false if it exits first or the
  // timeout passes.
  bool WaitUntilListening(absl::Duration timeout = absl::Seconds(30));
  // The address from the banner, e.g. "127.0.0.1:41234" or "unix:/tmp/s".
  std::string address() const;

  void Signal(int signal_number) const;
  // The exit code, or nothing if it is still running after `timeout` or was
  // killed by a signal.
  std::optional<int> WaitForExit(absl::Duration timeout);

  std::string Stdout() const;
  std::string Stderr() const;
  // A "VmRSS" or "VmHWM" line of /proc/<pid>/status, in bytes.
  int64_t MemoryBytes(const std::string& field) const;
  // Restarts the VmHWM peak from the current RSS (/proc/<pid>/clear_refs).
  bool ResetPeakMemory() const;

  pid_t pid() const { return pid_; }

 private:
  // Collects the exit status if the process has ended; whether it has.
  bool Reaped();

  pid_t pid_ = -1;
  bool exited_ = false;
  std::optional<int> exit_code_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// A fresh directory under the test's temporary directory.
std::string MakeTempDir();

}  // namespace actserve::testing

#endif  // ACTSERVE_TESTS_SERVER_SERVER_PROCESS_H_
