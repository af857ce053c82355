#include "tests/server/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace actserve::testing {
namespace {

constexpr char kBanner[] = "actserve listening on ";

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "actserve_test_XXXXXX";
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

ServerProcess::ServerProcess(const std::vector<std::string>& args,
                             const std::vector<std::string>& env) {
  const std::string dir = MakeTempDir();
  stdout_path_ = dir + "/stdout";
  stderr_path_ = dir + "/stderr";
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls are allowed in a threaded parent's child.
  std::vector<std::string> argv_strings = {ACTSERVE_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int out =
      open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err =
      open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);

  pid_ = fork();
  if (pid_ == 0) {
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    // The test runner may block signals; the server expects defaults.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(err);
  EXPECT_GT(pid_, 0);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool ServerProcess::WaitUntilListening(absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (absl::StrContains(Stdout(), kBanner)) return true;
    if (Reaped()) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

std::string ServerProcess::address() const {
  const std::string out = Stdout();
  const size_t start = out.find(kBanner);
  if (start == std::string::npos) return "";
  const size_t begin = start + sizeof(kBanner) - 1;
  return out.substr(begin, out.find('\n', begin) - begin);
}

void ServerProcess::Signal(int signal_number) const {
  kill(pid_, signal_number);
}

bool ServerProcess::Reaped() {
  int status = 0;
  if (!exited_ && waitpid(pid_, &status, WNOHANG) == pid_) {
    exited_ = true;
    if (WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
  }
  return exited_;
}

std::optional<int> ServerProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (!Reaped() && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  return exit_code_;
}

std::string ServerProcess::Stdout() const { return ReadAll(stdout_path_); }
std::string ServerProcess::Stderr() const { return ReadAll(stderr_path_); }

int64_t ServerProcess::MemoryBytes(const std::string& field) const {
  const std::string status = ReadAll(absl::StrCat("/proc/", pid_, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, field + ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(line, &kib)) return kib * 1024;
  }
  ADD_FAILURE() << "no " << field << " in /proc/" << pid_ << "/status";
  return 0;
}

bool ServerProcess::ResetPeakMemory() const {
  std::ofstream clear_refs(absl::StrCat("/proc/", pid_, "/clear_refs"));
  clear_refs << "5";
  clear_refs.flush();
  return clear_refs.good();
}

}  // namespace actserve::testing
