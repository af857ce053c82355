// actserve-client: command-line client of the actserve ActivationService.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "client/commands/command_line.h"
#include "client/commands/commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(absl::Span<const std::string> args);
  const char* summary;
};

constexpr Subcommand kSubcommands[] = {
    {"list", actserve::client::RunList, "Show the catalog of activations."},
    {"eval", actserve::client::RunEval,
     "Evaluate an activation on a .npy file (forward, derivative, "
     "backward)."},
    {"health", actserve::client::RunHealth,
     "Exit 0 when the server reports SERVING (container HEALTHCHECK)."},
    {"bench", actserve::client::RunBench,
     "Load-test the server: calls/s, GB/s, latency percentiles."},
    {"plot", actserve::client::RunPlot, "Draw f and f' as an SVG chart."},
};

void PrintUsage(std::FILE* out) {
  std::fputs(
      "Usage: actserve-client COMMAND [flags]\n\n"
      "Client of the actserve activation-function service.\n\nCommands:\n",
      out);
  for (const Subcommand& command : kSubcommands) {
    std::fprintf(out, "  %-8s %s\n", command.name, command.summary);
  }
  std::fputs(
      "\nRun `actserve-client COMMAND --help` for the flags of a command.\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return actserve::client::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return actserve::client::kExitOk;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const Subcommand& command : kSubcommands) {
    if (name == command.name) return command.run(args);
  }
  std::fprintf(stderr, "actserve-client: unknown command '%s'\n\n",
               name.c_str());
  PrintUsage(stderr);
  return actserve::client::kExitUsage;
}
