#include "server/activation_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/thread_pool.h"
#include "grpc/health/v1/health.pb.h"
#include "server/logging.h"

namespace actserve {
namespace {

// Room for everything around a message's tensor data (field tags, shape,
// activation spec), so a payload of exactly --max_message_bytes still fits.
constexpr int64_t kMessageFramingBytes = int64_t{64} << 10;

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view flag) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read '", path, "'"));
  }
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const TlsFiles& tls) {
  if (tls.cert_chain.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadFile(tls.cert_chain, "--tls_cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(tls.private_key, "--tls_key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(
      tls.client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (!tls.client_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(tls.client_ca, "--tls_client_ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
  }
  return grpc::SslServerCredentials(options);
}

// "host:0" becomes "host:<bound port>"; unix sockets stay as given.
std::string BoundAddress(const std::string& listen, int port) {
  if (absl::StartsWith(listen, "unix:")) return listen;
  return absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
}

}  // namespace

ActivationServer::ActivationServer(ServerConfig config,
                                   std::unique_ptr<Metrics> metrics)
    : config_(std::move(config)),
      metrics_(std::move(metrics)),
      service_(config_, metrics_.get()) {}

absl::StatusOr<std::unique_ptr<ActivationServer>> ActivationServer::Start(
    ServerConfig config) {
  absl::Status status = config.Validate();
  if (!status.ok()) return status;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      Credentials(config.tls);
  if (!credentials.ok()) return credentials.status();
  // The pool is process-wide; only the first server (or main) sizes it.
  if (!ThreadPool::SetSharedThreadCount(static_cast<size_t>(config.threads)) &&
      config.threads != 0) {
    Log(LogLevel::kWarning,
        "--threads ignored: the compute pool was already started");
  }

  std::unique_ptr<Metrics> metrics;
  if (!config.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<Metrics>> started =
        Metrics::Start(config.metrics_listen);
    if (!started.ok()) return started.status();
    metrics = *std::move(started);
  }

  std::unique_ptr<ActivationServer> server(
      new ActivationServer(std::move(config), std::move(metrics)));
  const ServerConfig& c = server->config_;
  grpc::EnableDefaultHealthCheckService(true);
  // Debian's gRPC serves health without its descriptors; touching ours links
  // them, so reflection can describe grpc.health.v1.Health (buf curl
  // --list-methods asks for every service it lists).
  grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(c.listen, *credentials, &port);
  // A second server on a busy port must fail, not silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  const int max_message =
      static_cast<int>(c.max_message_bytes + kMessageFramingBytes);
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  grpc::ResourceQuota quota("actserve");
  quota.Resize(static_cast<size_t>(c.max_memory));
  builder.SetResourceQuota(quota);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  const bool tcp = !absl::StartsWith(c.listen, "unix:");
  if (server->server_ == nullptr || (tcp && port == 0)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", c.listen,
                     ": the address is in use, malformed, or not permitted"));
  }
  server->address_ = BoundAddress(c.listen, port);
  grpc::HealthCheckServiceInterface* health =
      server->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kActivationServiceName, true);
  return server;
}

ActivationServer::~ActivationServer() { Shutdown(absl::ZeroDuration()); }

void ActivationServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(grace));
  server_->Wait();
}

}  // namespace actserve
