#ifndef ACTSERVE_CLIENT_COMMANDS_COMMANDS_H_
#define ACTSERVE_CLIENT_COMMANDS_COMMANDS_H_

#include <string>

#include "absl/types/span.h"

namespace actserve::client {

// Each subcommand takes its arguments after the subcommand name and returns
// the process exit code: 0 success, 1 failure, 2 bad usage.
int RunList(absl::Span<const std::string> args);
int RunEval(absl::Span<const std::string> args);
int RunHealth(absl::Span<const std::string> args);
int RunBench(absl::Span<const std::string> args);
int RunPlot(absl::Span<const std::string> args);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_COMMANDS_COMMANDS_H_
