// actserve-client health: grpc.health.v1 Check, as a container HEALTHCHECK.
#include <cstdio>
#include <string>

#include "client/channel.h"
#include "client/commands/command_line.h"
#include "client/commands/commands.h"
#include "client/status_conversion.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace actserve::client {

int RunHealth(absl::Span<const std::string> args) {
  ConnectionOptions connection;
  // A health probe that hangs is worse than one that fails.
  connection.deadline = absl::Seconds(5);
  std::string service;
  bool quiet = false;
  FlagSet flags(
      "actserve-client health [--service=NAME] [flags]",
      "Asks the server's grpc.health.v1.Health service for its status.\n"
      "Exits 0 only when it answers SERVING; 1 otherwise (NOT_SERVING,\n"
      "unknown service, unreachable server). Prints the status unless "
      "--quiet.");
  flags.AddString("service", &service,
                  "Service to ask about; empty: the server as a whole.",
                  "NAME");
  flags.AddBool("quiet", &quiet, "Print nothing; only the exit code tells.");
  AddConnectionFlags(flags, &connection);
  if (std::optional<int> exit = ParseCommandLine(flags, args)) return *exit;

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(connection);
  if (!channel.ok()) return ReportFailure("health", channel.status());
  std::unique_ptr<grpc::health::v1::Health::Stub> stub =
      grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + connection.deadline));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  absl::Status status =
      FromGrpcStatus(stub->Check(&context, request, &response));
  if (!status.ok()) {
    return quiet ? kExitFailure : ReportFailure("health", status);
  }
  if (!quiet) {
    std::printf("%s\n",
                grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                    response.status())
                    .c_str());
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? kExitOk
             : kExitFailure;
}

}  // namespace actserve::client
