#include "client/commands/command_line.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace actserve::client {

std::optional<int> ParseCommandLine(FlagSet& flags,
                                    absl::Span<const std::string> args) {
  absl::Status status = flags.Parse(args);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return kExitOk;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
    return kExitUsage;
  }
  return std::nullopt;
}

int ReportFailure(absl::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "actserve-client %s: %s: %s\n",
               std::string(command).c_str(),
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kExitFailure;
}

}  // namespace actserve::client
