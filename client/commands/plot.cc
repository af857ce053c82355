// actserve-client plot: f and f' over a range, as an SVG chart.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/activation_spec.h"
#include "client/channel.h"
#include "client/commands/command_line.h"
#include "client/commands/commands.h"
#include "client/evaluate_call.h"
#include "client/status_conversion.h"
#include "client/svg_plot.h"
#include "grpcpp/client_context.h"

namespace actserve::client {
namespace {

struct PlotFlags {
  std::string fn;
  std::vector<std::string> params;
  std::string range = "-6:6";
  int64_t points = 401;
  std::string out;
  ConnectionOptions connection;
};

absl::Status ParseRange(absl::string_view text, double* lo, double* hi) {
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits(':', 1));
  if (!absl::SimpleAtod(parts.first, lo) ||
      !absl::SimpleAtod(parts.second, hi) || !(*lo < *hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--range=", text, ": expected LO:HI with LO < HI"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ActivationInfo> FindInCatalog(
    v1::ActivationService::Stub& stub, const std::string& name,
    absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  v1::ListActivationsResponse catalog;
  absl::Status status = FromGrpcStatus(
      stub.ListActivations(&context, v1::ListActivationsRequest(), &catalog));
  if (!status.ok()) return status;
  for (const v1::ActivationInfo& info : catalog.activations()) {
    if (info.name() == name) return info;
  }
  return absl::NotFoundError(
      absl::StrCat("the server has no activation '", name, "'"));
}

// Evaluates `mode` on the grid laid out as [n, width] float64 rows and
// returns the first output element of each row.
absl::StatusOr<std::vector<double>> Sample(v1::ActivationService::Stub& stub,
                                           const v1::ActivationSpec& spec,
                                           v1::Mode mode,
                                           const std::vector<double>& x,
                                           int width, absl::Duration deadline) {
  EvaluationRequest request;
  request.activation = spec;
  request.mode = mode;
  std::vector<double> rows(x.size() * width, 0.0);
  for (size_t i = 0; i < x.size(); ++i) rows[i * width] = x[i];
  request.input =
      TensorView{{static_cast<int64_t>(x.size()), width},
                 v1::DTYPE_FLOAT64,
                 absl::string_view(reinterpret_cast<const char*>(rows.data()),
                                   rows.size() * sizeof(double))};
  TransferOptions transfer;
  transfer.deadline = deadline;
  absl::StatusOr<EvaluationResult> result = Evaluate(stub, request, transfer);
  if (!result.ok()) return result.status();
  const std::string& data = result->output.data();
  const size_t per_row = data.size() / sizeof(double) / x.size();
  if (result->output.dtype() != v1::DTYPE_FLOAT64 || per_row == 0 ||
      data.size() != x.size() * per_row * sizeof(double)) {
    return absl::InternalError("the server's output does not fit the grid");
  }
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    std::memcpy(&y[i], data.data() + i * per_row * sizeof(double),
                sizeof(double));
  }
  return y;
}

absl::Status Plot(const PlotFlags& flags) {
  double lo, hi;
  absl::Status status = ParseRange(flags.range, &lo, &hi);
  if (!status.ok()) return status;
  if (flags.points < 2) {
    return absl::InvalidArgumentError("--points must be at least 2");
  }
  absl::StatusOr<v1::ActivationSpec> spec =
      ParseActivationSpec(flags.fn, flags.params);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(flags.connection);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<v1::ActivationService::Stub> stub =
      v1::ActivationService::NewStub(*channel);
  absl::StatusOr<v1::ActivationInfo> info =
      FindInCatalog(*stub, flags.fn, flags.connection.deadline);
  if (!info.ok()) return info.status();

  // Elementwise functions see one column. Vector functions (softmax,
  // maxout) see rows (x, 0): the curve is y_0 and dy_0/dx_0 of that pair,
  // which for softmax is the logistic sigmoid and for maxout max(x, 0).
  const bool elementwise = info->kind() == v1::ActivationInfo::KIND_ELEMENTWISE;
  const int width = elementwise ? 1 : 2;
  std::vector<double> x(flags.points);
  for (int64_t i = 0; i < flags.points; ++i) {
    x[i] = lo + (hi - lo) * i / (flags.points - 1);
  }
  absl::StatusOr<std::vector<double>> forward = Sample(
      *stub, *spec, v1::MODE_FORWARD, x, width, flags.connection.deadline);
  if (!forward.ok()) return forward.status();
  absl::StatusOr<std::vector<double>> derivative = Sample(
      *stub, *spec, v1::MODE_DERIVATIVE, x, width, flags.connection.deadline);
  if (!derivative.ok()) return derivative.status();

  PlotSpec plot;
  plot.title = flags.fn;
  for (const std::string& param : flags.params) {
    absl::StrAppend(&plot.title, " ", param);
  }
  plot.subtitle = info->formula();
  plot.x_label = elementwise ? "x" : "x  (input row: [x, 0])";
  plot.x = std::move(x);
  plot.series.push_back(
      {elementwise ? "f(x)" : "y0", "#1f77b4", false, *std::move(forward)});
  plot.series.push_back({elementwise ? "f'(x)" : "dy0/dx0", "#ff7f0e", true,
                         *std::move(derivative)});

  std::ofstream out(flags.out, std::ios::trunc);
  out << RenderSvgPlot(plot);
  out.close();
  if (!out) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", flags.out));
  }
  return absl::OkStatus();
}

}  // namespace

int RunPlot(absl::Span<const std::string> args) {
  PlotFlags plot;
  FlagSet flags(
      "actserve-client plot --fn=NAME --out=F.svg [flags]",
      "Asks the server for f and f' on an even grid and draws both as an\n"
      "SVG chart. Softmax-like functions are drawn on rows (x, 0).\n\n"
      "Example:\n"
      "  actserve-client plot --fn=elu --param=alpha=0.5 --range=-4:3 "
      "--out=elu.svg");
  flags.AddString("fn", &plot.fn, "Activation name (see `list`).", "NAME");
  flags.AddRepeated("param", &plot.params, "Activation parameter.",
                    "KEY=VALUE");
  flags.AddString("range", &plot.range, "Interval of x.", "LO:HI");
  flags.AddInt("points", &plot.points, "Grid points.");
  flags.AddString("out", &plot.out, "Where to write the SVG.", "FILE");
  AddConnectionFlags(flags, &plot.connection);
  flags.Require("fn");
  flags.Require("out");
  if (std::optional<int> exit = ParseCommandLine(flags, args)) return *exit;
  absl::Status status = Plot(plot);
  if (!status.ok()) return ReportFailure("plot", status);
  return kExitOk;
}

}  // namespace actserve::client
