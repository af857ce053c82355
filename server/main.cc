// actserve: serves activation functions over gRPC until SIGTERM or SIGINT.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/activation_server.h"
#include "server/logging.h"
#include "server/server_flags.h"
#include "server/termination_signal.h"

namespace {

// How to reach the server, printed at startup for whoever started it.
std::string HowToCall(const actserve::ActivationServer& server) {
  const std::string& address = server.address();
  const bool tls = !server.config().tls.cert_chain.empty();
  std::string target;
  std::string options = "--protocol grpc";
  if (absl::StartsWith(address, "unix:")) {
    absl::StrAppend(&options, " --unix-socket ", address.substr(5));
    target = "http://localhost";
  } else {
    target = absl::StrCat(tls ? "https://" : "http://", address);
  }
  if (!tls) absl::StrAppend(&options, " --http2-prior-knowledge");
  return absl::StrCat("actserve listening on ", address, "\n  try: buf curl ",
                      options, " --list-methods ", target, "\n       buf curl ",
                      options, " ", target,
                      "/actserve.v1.ActivationService/ListActivations\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so that every thread inherits the mask.
  actserve::BlockTerminationSignals();

  absl::StatusOr<actserve::ServerConfig> config =
      actserve::ConfigFromCommandLine(argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "actserve: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  actserve::SetLogLevel(actserve::LogLevelFromFlags());

  absl::StatusOr<std::unique_ptr<actserve::ActivationServer>> server =
      actserve::ActivationServer::Start(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "actserve: error: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  std::string banner = HowToCall(**server);
  if (!(*server)->metrics_address().empty()) {
    absl::StrAppend(&banner, "actserve metrics on http://",
                    (*server)->metrics_address(), "/metrics\n");
  }
  std::fputs(banner.c_str(), stdout);
  std::fflush(stdout);

  const int signal_number = actserve::WaitForTerminationSignal();
  actserve::Log(
      actserve::LogLevel::kInfo,
      absl::StrCat("received ", strsignal(signal_number),
                   "; shutting down (grace ",
                   absl::FormatDuration(config->shutdown_grace), ")"));
  (*server)->Shutdown(config->shutdown_grace);
  actserve::Log(actserve::LogLevel::kInfo, "stopped");
  return 0;
}
