// `actserve --help`: every flag the binary defines, with its default and its
// ACTSERVE_<FLAG> variable, and exit code 0.
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    result.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// The flags defined in server/server_flags.cc, which this test links as the
// binary does; Abseil's own flags (--help, --flagfile, ...) are left out.
std::vector<absl::CommandLineFlag*> ServerFlags() {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "server/server_flags.cc")) {
      flags.push_back(flag);
    }
  }
  return flags;
}

TEST(ServerHelp, ListsEveryFlagWithDefaultAndVariableAndExitsZero) {
  const std::vector<absl::CommandLineFlag*> flags = ServerFlags();
  ASSERT_GE(flags.size(), 10u) << "the server's flags were not linked in";

  const CommandResult help =
      RunCommand(absl::StrCat(ACTSERVE_BINARY, " --help"));
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_THAT(help.output, Not(HasSubstr("No flags matched")));
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string name(flag->Name());
    // Each flag's entry runs from its "--name" to the next flag's.
    const size_t start = help.output.find(absl::StrCat("  --", name, "  "));
    ASSERT_NE(start, std::string::npos) << "--" << name << " missing:\n"
                                        << help.output;
    const std::string entry =
        help.output.substr(start, help.output.find("\n  --", start) - start);
    EXPECT_THAT(
        entry, HasSubstr(absl::StrCat("default ",
                                      flag->IsOfType<std::string>() ? "\"" : "",
                                      flag->DefaultValue())));
    EXPECT_THAT(entry, HasSubstr(absl::StrCat("ACTSERVE_",
                                              absl::AsciiStrToUpper(name))));
    EXPECT_THAT(entry, HasSubstr(flag->Help()));
  }
}

TEST(ServerHelp, UnknownFlagStillFails) {
  const CommandResult result =
      RunCommand(absl::StrCat(ACTSERVE_BINARY, " --no_such_flag 2>&1"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("no_such_flag"));
}

}  // namespace
