#include "server/server_flags.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace {
const actserve::ServerConfig kDefaults;
}  // namespace

ABSL_FLAG(std::string, listen, kDefaults.listen,
          "Address to serve on: host:port (port 0 picks a free one) or "
          "unix:/path/to/socket");
ABSL_FLAG(int, threads, kDefaults.threads,
          "Compute threads shared by all calls; 0 means one per hardware "
          "thread");
ABSL_FLAG(int64_t, max_message_bytes, kDefaults.max_message_bytes,
          "Largest request or response message payload, in bytes");
ABSL_FLAG(int64_t, max_memory, kDefaults.max_memory,
          "Memory the gRPC transport may hold for all connections together "
          "(messages being received, socket buffers), in bytes; beyond it, "
          "calls are cancelled with RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_elements, kDefaults.limits.max_elements,
          "Largest input tensor, in elements");
ABSL_FLAG(int64_t, max_jacobian_elements,
          kDefaults.limits.max_jacobian_elements,
          "Largest softmax/log_softmax derivative (Jacobian) output, in "
          "elements");
ABSL_FLAG(int, max_concurrent_streams, kDefaults.max_concurrent_streams,
          "Evaluate and EvaluateStream calls in progress at once; more are "
          "refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, chunk_bytes, kDefaults.chunk_sizes.default_bytes,
          "Result chunk size when a request asks for none, in bytes");
ABSL_FLAG(int64_t, min_chunk_bytes, kDefaults.chunk_sizes.min_bytes,
          "Smallest result chunk size a request may ask for, in bytes");
ABSL_FLAG(int64_t, max_chunk_bytes, kDefaults.chunk_sizes.max_bytes,
          "Largest result chunk size a request may ask for, in bytes");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain; with --tls_key, serve TLS instead of "
          "plaintext");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, clients must present a certificate it "
          "signed (mutual TLS)");
ABSL_FLAG(std::string, metrics_listen, kDefaults.metrics_listen,
          "host:port to serve Prometheus metrics on over HTTP, at /metrics "
          "(port 0 picks a free one); empty: no metrics");
ABSL_FLAG(absl::Duration, shutdown_grace, kDefaults.shutdown_grace,
          "On SIGTERM/SIGINT, how long calls in flight may finish before "
          "they are cancelled");
ABSL_FLAG(actserve::LogLevel, log_level, actserve::LogLevel::kInfo,
          "error, warning, info (one line per call) or debug");

namespace actserve {
namespace {

// Every flag above: each has an ACTSERVE_<NAME> environment fallback.
constexpr const char* kFlagNames[] = {
    "listen",
    "threads",
    "max_message_bytes",
    "max_memory",
    "max_elements",
    "max_jacobian_elements",
    "max_concurrent_streams",
    "chunk_bytes",
    "min_chunk_bytes",
    "max_chunk_bytes",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "metrics_listen",
    "shutdown_grace",
    "log_level",
};

std::string EnvironmentVariable(absl::string_view flag_name) {
  return absl::StrCat("ACTSERVE_", absl::AsciiStrToUpper(flag_name));
}

// Runs before the command line is parsed, so a flag given there overrides.
absl::Status ApplyEnvironmentFallbacks() {
  for (const char* name : kFlagNames) {
    const std::string variable = EnvironmentVariable(name);
    const char* value = std::getenv(variable.c_str());
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(variable, "=", value, ": ", error));
    }
  }
  return absl::OkStatus();
}

constexpr const char kUsage[] =
    "Serves actserve.v1.ActivationService (plus gRPC health and "
    "reflection).\nEvery flag can also be set as ACTSERVE_<FLAG>, e.g. "
    "ACTSERVE_LISTEN=0.0.0.0:50051; the command line wins.";

// Abseil's own --help lists only the flags of the file that defines main(),
// and exits 1; ours lists every server flag with its default and its
// environment variable, and exits 0.
std::string Help() {
  std::string help = absl::StrCat("Usage: actserve [--flag=value ...]\n",
                                  kUsage, "\n\nFlags:\n");
  for (const char* name : kFlagNames) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string default_value = flag->DefaultValue();
    if (flag->IsOfType<std::string>()) {
      default_value = absl::StrCat("\"", default_value, "\"");
    }
    absl::StrAppend(&help, "  --", name, "  (default ", default_value, "; env ",
                    EnvironmentVariable(name), ")\n      ", flag->Help(), "\n");
  }
  return help;
}

// Whether the command line asks for --help (before a "--" that ends flags).
bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "--help" || arg == "-help") return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<ServerConfig> ConfigFromCommandLine(int argc, char** argv) {
  if (WantsHelp(argc, argv)) {
    std::fputs(Help().c_str(), stdout);
    std::exit(0);
  }
  absl::SetProgramUsageMessage(kUsage);
  absl::Status status = ApplyEnvironmentFallbacks();
  if (!status.ok()) return status;
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument '", positional[1], "'; all settings are --flags"));
  }

  ServerConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  config.threads = absl::GetFlag(FLAGS_threads);
  config.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  config.max_memory = absl::GetFlag(FLAGS_max_memory);
  config.limits.max_elements = absl::GetFlag(FLAGS_max_elements);
  config.limits.max_jacobian_elements =
      absl::GetFlag(FLAGS_max_jacobian_elements);
  config.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  config.chunk_sizes.default_bytes = absl::GetFlag(FLAGS_chunk_bytes);
  config.chunk_sizes.min_bytes = absl::GetFlag(FLAGS_min_chunk_bytes);
  config.chunk_sizes.max_bytes = absl::GetFlag(FLAGS_max_chunk_bytes);
  config.tls.cert_chain = absl::GetFlag(FLAGS_tls_cert);
  config.tls.private_key = absl::GetFlag(FLAGS_tls_key);
  config.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  status = config.Validate();
  if (!status.ok()) return status;
  return config;
}

LogLevel LogLevelFromFlags() { return absl::GetFlag(FLAGS_log_level); }

}  // namespace actserve
