// actserve-client list: the server's catalog.
#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "actserve/v1/actserve.grpc.pb.h"
#include "client/channel.h"
#include "client/commands/command_line.h"
#include "client/commands/commands.h"
#include "client/status_conversion.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"

namespace actserve::client {
namespace {

absl::string_view KindName(v1::ActivationInfo::Kind kind) {
  switch (kind) {
    case v1::ActivationInfo::KIND_ELEMENTWISE:
      return "elementwise";
    case v1::ActivationInfo::KIND_ALONG_AXIS:
      return "along axis";
    case v1::ActivationInfo::KIND_GROUPED:
      return "grouped";
    default:
      return "?";
  }
}

// "alpha=0.01 axis=-1", defaults as the server reports them.
std::string ParameterList(const v1::ActivationInfo& info) {
  return absl::StrJoin(
      info.parameters(), " ",
      [](std::string* out, const v1::ParameterInfo& param) {
        if (param.type() == v1::ParameterInfo::TYPE_CHANNEL_TENSOR) {
          absl::StrAppend(out, param.name(), "=[...]");
        } else {
          absl::StrAppendFormat(out, "%s=%g", param.name(),
                                param.default_value());
        }
      });
}

void PrintTable(const v1::ListActivationsResponse& catalog) {
  int name_width = 4, params_width = 10;
  for (const v1::ActivationInfo& info : catalog.activations()) {
    name_width = std::max(name_width, static_cast<int>(info.name().size()));
    params_width =
        std::max(params_width, static_cast<int>(ParameterList(info).size()));
  }
  auto print_row = [&](absl::string_view name, absl::string_view kind,
                       absl::string_view params, absl::string_view ulp32,
                       absl::string_view ulp64, absl::string_view formula) {
    std::fputs(
        absl::StrFormat("%-*s  %-11s  %-*s  %8s  %8s  %s\n", name_width, name,
                        kind, params_width, params, ulp32, ulp64, formula)
            .c_str(),
        stdout);
  };
  print_row("NAME", "KIND", "PARAMETERS", "ULP f32", "ULP f64", "FORMULA");
  for (const v1::ActivationInfo& info : catalog.activations()) {
    print_row(info.name(), KindName(info.kind()), ParameterList(info),
              absl::StrFormat("%g", info.max_ulp_float32()),
              absl::StrFormat("%g", info.max_ulp_float64()), info.formula());
  }
}

// One line per absolute-error window: where, near a root of f', the ULP
// bounds give way to an absolute one.
void PrintWindows(const v1::ListActivationsResponse& catalog) {
  std::fputs(
      "NAME  MODE  DTYPE  CENTRE  HALF_WIDTH  MAX_ABS_ERROR (backward: "
      "times |g|)\n",
      stdout);
  for (const v1::ActivationInfo& info : catalog.activations()) {
    for (const v1::AbsErrorWindow& w : info.abs_error_windows()) {
      std::fputs(
          absl::StrFormat(
              "%s  %s  %s  %.17g  %g  %g\n", info.name(),
              w.mode() == v1::MODE_DERIVATIVE ? "derivative" : "backward",
              w.dtype() == v1::DTYPE_FLOAT64 ? "float64" : "float32",
              w.centre(), w.half_width(), w.max_abs_error())
              .c_str(),
          stdout);
    }
  }
}

}  // namespace

int RunList(absl::Span<const std::string> args) {
  ConnectionOptions connection;
  bool json = false;
  bool names = false;
  bool windows = false;
  FlagSet flags("actserve-client list [flags]",
                "Lists the activations the server offers: parameters with "
                "their defaults,\nmeasured accuracy in ULP and the formula.");
  flags.AddBool("json", &json,
                "Print the ListActivations response as JSON, every field.");
  flags.AddBool("names", &names, "Print only the names, one per line.");
  flags.AddBool("windows", &windows,
                "Print where, near a root of f', an absolute error bound "
                "replaces the ULP bounds.");
  AddConnectionFlags(flags, &connection);
  if (std::optional<int> exit = ParseCommandLine(flags, args)) return *exit;

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(connection);
  if (!channel.ok()) return ReportFailure("list", channel.status());
  std::unique_ptr<v1::ActivationService::Stub> stub =
      v1::ActivationService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + connection.deadline));
  v1::ListActivationsResponse catalog;
  absl::Status status = FromGrpcStatus(
      stub->ListActivations(&context, v1::ListActivationsRequest(), &catalog));
  if (!status.ok()) return ReportFailure("list", status);

  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;
    const auto converted =
        google::protobuf::util::MessageToJsonString(catalog, &text, options);
    if (!converted.ok()) {
      return ReportFailure("list", absl::InternalError(converted.ToString()));
    }
    std::fputs(text.c_str(), stdout);
  } else if (windows) {
    PrintWindows(catalog);
  } else if (names) {
    for (const v1::ActivationInfo& info : catalog.activations()) {
      std::printf("%s\n", info.name().c_str());
    }
  } else {
    PrintTable(catalog);
  }
  return kExitOk;
}

}  // namespace actserve::client
