#ifndef ACTSERVE_CLIENT_COMMANDS_COMMAND_LINE_H_
#define ACTSERVE_CLIENT_COMMANDS_COMMAND_LINE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/flag_set.h"

namespace actserve::client {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Parses `args` into `flags`. Returns the exit code when the command should
// stop now (after printing --help, or a usage error), nullopt to go on.
std::optional<int> ParseCommandLine(FlagSet& flags,
                                    absl::Span<const std::string> args);

// Prints "actserve-client COMMAND: CODE: message" to stderr; returns
// kExitFailure.
int ReportFailure(absl::string_view command, const absl::Status& status);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_COMMANDS_COMMAND_LINE_H_
