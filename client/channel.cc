#include "client/channel.h"

#include <fstream>
#include <iterator>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace actserve::client {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", what, " file ", path));
  }
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

}  // namespace

void AddConnectionFlags(FlagSet& flags, ConnectionOptions* options) {
  flags.AddString("target", &options->target,
                  "Server address: host:port, unix:/path, dns:///host:port "
                  "or ipv4:a:p,b:p (several: round-robin).",
                  "ADDR");
  flags.AddBool("tls", &options->tls,
                "Use TLS with the system's root certificates.");
  flags.AddString("tls-ca", &options->ca_file,
                  "PEM root certificates to verify the server (implies "
                  "--tls).",
                  "FILE");
  flags.AddString("tls-cert", &options->cert_file,
                  "PEM client certificate chain, for mutual TLS.", "FILE");
  flags.AddString("tls-key", &options->key_file,
                  "PEM private key of --tls-cert.", "FILE");
  flags.AddString("tls-server-name", &options->tls_server_name,
                  "Name to verify in the server certificate instead of the "
                  "target's host.",
                  "NAME");
  flags.AddDuration("deadline", &options->deadline, "Deadline of each call.");
  flags.AddInt("max-message-bytes", &options->max_message_bytes,
               "Largest gRPC message sent or received.", "BYTES");
}

bool HasSeveralBackends(absl::string_view target) {
  if (absl::StartsWith(target, "dns:")) return true;
  return (absl::StartsWith(target, "ipv4:") ||
          absl::StartsWith(target, "ipv6:")) &&
         absl::StrContains(target, ',');
}

std::string ServiceConfigJson(absl::string_view target) {
  // Retrying is safe: every method is a pure function of its request.
  // UNAVAILABLE is what a restarting or not-yet-listening server returns.
  constexpr absl::string_view kTemplate = R"json({
  "loadBalancingConfig": [{"$POLICY": {}}],
  "methodConfig": [{
    "name": [{"service": "actserve.v1.ActivationService"},
             {"service": "grpc.health.v1.Health"}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.1s",
      "maxBackoff": "2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json";
  return absl::StrReplaceAll(
      kTemplate,
      {{"$POLICY", HasSeveralBackends(target) ? "round_robin" : "pick_first"}});
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ConnectionOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls || !options.ca_file.empty() || !options.cert_file.empty() ||
      !options.key_file.empty()) {
    if (options.cert_file.empty() != options.key_file.empty()) {
      return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
    }
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadPem(options.ca_file, "CA");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadPem(options.cert_file, "certificate");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPem(options.key_file, "key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }

  if (options.max_message_bytes <= 0 ||
      options.max_message_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        "--max-message-bytes must be between 1 and 2^31 - 1");
  }
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options.target));
  args.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::CreateCustomChannel(options.target, credentials, args);
}

}  // namespace actserve::client
