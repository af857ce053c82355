#ifndef ACTSERVE_SERVER_SERVER_CONFIG_H_
#define ACTSERVE_SERVER_SERVER_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/evaluation.h"

namespace actserve {

// Bounds on the data bytes of one result chunk.
struct ChunkSizes {
  int64_t default_bytes = int64_t{1} << 20;
  int64_t min_bytes = int64_t{1} << 10;
  int64_t max_bytes = int64_t{16} << 20;

  // A request's chunk_bytes: 0 means the default; anything else must lie
  // within [min_bytes, max_bytes] (InvalidArgument naming chunk_bytes).
  absl::StatusOr<int64_t> Resolve(int64_t requested) const;
};

// PEM files; all empty means plaintext.
struct TlsFiles {
  std::string cert_chain;
  std::string private_key;
  // Set: clients must present a certificate signed by this CA (mTLS).
  std::string client_ca;
};

// Everything a server needs to start. main() fills it from flags; tests
// build it directly.
struct ServerConfig {
  // "host:port" (port 0 picks a free one) or "unix:/path".
  std::string listen = "127.0.0.1:50051";
  // Workers of the shared compute pool; 0 means one per hardware thread.
  int threads = 0;
  // Largest message payload accepted or sent. The channel limits are set a
  // little higher, because gRPC rejects a payload of exactly its limit and
  // messages carry framing around their data.
  int64_t max_message_bytes = int64_t{64} << 20;
  // Memory gRPC may hold for all connections together: socket read buffers
  // and messages being received, before the size limit above applies (a
  // message's length prefix alone could otherwise make the server buffer
  // gigabytes). Under pressure gRPC shrinks its flow-control windows, then
  // cancels calls with RESOURCE_EXHAUSTED.
  int64_t max_memory = int64_t{512} << 20;
  EvaluationLimits limits;
  // Evaluate and EvaluateStream calls in progress; more are refused with
  // RESOURCE_EXHAUSTED.
  int max_concurrent_streams = 256;
  ChunkSizes chunk_sizes;
  TlsFiles tls;
  // "host:port" serving Prometheus metrics over HTTP at /metrics (port 0
  // picks a free one); empty: no metrics. Off by default so that a server
  // started by hand opens no second port; the container turns it on.
  std::string metrics_listen;
  // How long in-flight calls may run on after a shutdown request.
  absl::Duration shutdown_grace = absl::Seconds(10);

  // Checks the values against each other (InvalidArgument naming the flag).
  absl::Status Validate() const;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_SERVER_CONFIG_H_
