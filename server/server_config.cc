#include "server/server_config.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace actserve {

absl::StatusOr<int64_t> ChunkSizes::Resolve(int64_t requested) const {
  if (requested == 0) return default_bytes;
  if (requested < min_bytes || requested > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_bytes: ", requested, " is outside the server's [",
                     min_bytes, ", ", max_bytes, "]; 0 means ", default_bytes));
  }
  return requested;
}

absl::Status ServerConfig::Validate() const {
  if (listen.empty()) {
    return absl::InvalidArgumentError("--listen: empty address");
  }
  if (threads < 0) {
    return absl::InvalidArgumentError("--threads: must be >= 0");
  }
  if (max_message_bytes < (int64_t{1} << 10) ||
      max_message_bytes > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(
        "--max_message_bytes: must be within [1 KiB, 1 GiB]");
  }
  if (max_memory < 2 * max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_memory (", max_memory,
        "): must be at least twice --max_message_bytes (", max_message_bytes,
        "), or a request of the largest size could never be received"));
  }
  if (limits.max_elements < 1 || limits.max_jacobian_elements < 1) {
    return absl::InvalidArgumentError(
        "--max_elements and --max_jacobian_elements: must be >= 1");
  }
  if (max_concurrent_streams < 1) {
    return absl::InvalidArgumentError("--max_concurrent_streams: must be >= 1");
  }
  // A chunk must hold at least one float64 element and fit in a message.
  if (chunk_sizes.min_bytes < 8 ||
      chunk_sizes.min_bytes > chunk_sizes.default_bytes ||
      chunk_sizes.default_bytes > chunk_sizes.max_bytes ||
      chunk_sizes.max_bytes > max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk sizes: need 8 <= --min_chunk_bytes (", chunk_sizes.min_bytes,
        ") <= --chunk_bytes (", chunk_sizes.default_bytes,
        ") <= --max_chunk_bytes (", chunk_sizes.max_bytes,
        ") <= --max_message_bytes (", max_message_bytes, ")"));
  }
  if (tls.cert_chain.empty() != tls.private_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key: give both or neither");
  }
  if (!tls.client_ca.empty() && tls.cert_chain.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca: needs --tls_cert and --tls_key (mTLS is TLS)");
  }
  if (!metrics_listen.empty() && (absl::StartsWith(metrics_listen, "unix:") ||
                                  !absl::StrContains(metrics_listen, ':'))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen: '", metrics_listen,
        "' is not host:port (e.g. 0.0.0.0:9090); empty turns metrics off"));
  }
  if (shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--shutdown_grace: must be >= 0");
  }
  return absl::OkStatus();
}

}  // namespace actserve
