#ifndef ACTSERVE_SERVER_ACTIVATION_SERVER_H_
#define ACTSERVE_SERVER_ACTIVATION_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/activation_service.h"
#include "server/metrics.h"
#include "server/server_config.h"

namespace actserve {

// The running actserve server: ActivationService, gRPC health
// (grpc.health.v1.Health) and server reflection on one listening address.
// main() and the tests both start it here.
class ActivationServer {
 public:
  // Binds and starts serving. Fails (rather than sharing the port through
  // SO_REUSEPORT) when the address is taken.
  static absl::StatusOr<std::unique_ptr<ActivationServer>> Start(
      ServerConfig config);

  // Shuts down at once if Shutdown was not called.
  ~ActivationServer();
  ActivationServer(const ActivationServer&) = delete;
  ActivationServer& operator=(const ActivationServer&) = delete;

  // The bound address: "127.0.0.1:40123" (a port of 0 resolved) or
  // "unix:/path".
  const std::string& address() const { return address_; }
  // Where metrics are served ("127.0.0.1:9090", a port of 0 resolved); empty
  // when config().metrics_listen is.
  std::string metrics_address() const {
    return metrics_ != nullptr ? metrics_->address() : "";
  }
  const ServerConfig& config() const { return config_; }

  // A channel to this server without a socket, for tests.
  std::shared_ptr<grpc::Channel> InProcessChannel(
      const grpc::ChannelArguments& args) {
    return server_->InProcessChannel(args);
  }

  // Reports NOT_SERVING on health, refuses new calls, lets calls in flight
  // finish for up to `grace`, then cancels the rest; returns when all calls
  // have ended. Later calls do nothing.
  void Shutdown(absl::Duration grace);

 private:
  ActivationServer(ServerConfig config, std::unique_ptr<Metrics> metrics);

  const ServerConfig config_;
  // Before service_, which records into it, and destroyed after the calls
  // have ended.
  const std::unique_ptr<Metrics> metrics_;
  ActivationService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

// The name health checks use for ActivationService.
inline constexpr char kActivationServiceName[] =
    "actserve.v1.ActivationService";

}  // namespace actserve

#endif  // ACTSERVE_SERVER_ACTIVATION_SERVER_H_
