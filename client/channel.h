#ifndef ACTSERVE_CLIENT_CHANNEL_H_
#define ACTSERVE_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/flag_set.h"
#include "grpcpp/channel.h"

namespace actserve::client {

// How to reach the server: the flags every subcommand shares.
struct ConnectionOptions {
  // Any gRPC target: host:port, unix:/path, dns:///host:port,
  // ipv4:10.0.0.1:50051,10.0.0.2:50051 ...
  std::string target = "127.0.0.1:50051";
  // TLS is on when any of these is set or `tls` is true.
  bool tls = false;
  std::string ca_file;    // PEM roots; empty: the system's
  std::string cert_file;  // client certificate chain (mutual TLS)
  std::string key_file;   // its private key
  // Overrides the name checked against the server certificate.
  std::string tls_server_name;
  absl::Duration deadline = absl::Seconds(60);
  // Largest message either way; the server's own limit may be lower, which
  // is why big tensors go over EvaluateStream instead.
  int64_t max_message_bytes = 64 << 20;
};

// Registers --target, --tls, --tls-ca, --tls-cert, --tls-key,
// --tls-server-name, --deadline and --max-message-bytes.
void AddConnectionFlags(FlagSet& flags, ConnectionOptions* options);

// Whether the target names several backends: an ipv4:/ipv6: list with
// commas, or a dns: name (which may resolve to many addresses).
bool HasSeveralBackends(absl::string_view target);

// Service config: retries on UNAVAILABLE for every method of the
// ActivationService and the health service, and the round_robin policy
// when HasSeveralBackends(target), so load spreads over all of them.
std::string ServiceConfigJson(absl::string_view target);

// Reads the PEM files; fails when one is missing or unreadable.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ConnectionOptions& options);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_CHANNEL_H_
