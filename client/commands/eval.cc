// actserve-client eval: one .npy file through an activation.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/activation_spec.h"
#include "client/channel.h"
#include "client/commands/command_line.h"
#include "client/commands/commands.h"
#include "client/evaluate_call.h"
#include "client/mapped_npy_file.h"
#include "client/npy.h"
#include "client/npy_input_file.h"
#include "client/progress_bar.h"
#include "client/tensor.h"

namespace actserve::client {
namespace {

// Transfers shorter than this finish before a bar would be worth reading.
constexpr int64_t kProgressMinBytes = 16 << 20;

struct EvalFlags {
  std::string fn;
  std::vector<std::string> params;
  std::string mode = "forward";
  std::string in;
  std::string grad;
  std::string out;
  std::string param_grad_out;
  bool bf16 = false;
  bool quiet = false;
  TransferOptions transfer;
  ConnectionOptions connection;
};

// "pg.npy" for a single gradient; "pg.alpha.npy", "pg.beta.npy" when an
// activation has several.
std::string ParamGradPath(const std::string& path, const std::string& name,
                          bool several) {
  if (!several) return path;
  const std::string stem =
      absl::EndsWith(path, ".npy") ? path.substr(0, path.size() - 4) : path;
  return absl::StrCat(stem, ".", name, ".npy");
}

// Whether both paths name one existing file.
bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The output went to flags.out as it arrived (see Eval); this reports it
// and writes the parameter gradients.
absl::Status WriteResult(const EvalFlags& flags, EvaluationResult result) {
  const std::string shape = absl::StrJoin(result.output.shape(), ", ");
  if (!flags.quiet) {
    std::printf("%s: shape [%s], via %s, %lld us of compute\n",
                flags.out.c_str(), shape.c_str(),
                result.streamed ? "EvaluateStream" : "Evaluate",
                static_cast<long long>(result.compute_micros));
  }
  if (result.parameter_gradients.empty()) return absl::OkStatus();
  if (flags.param_grad_out.empty()) {
    if (!flags.quiet) {
      std::printf(
          "parameter gradients not saved (no --param-grad-out): %s\n",
          absl::StrJoin(result.parameter_gradients, ", ",
                        [](std::string* out, const v1::ParameterGradient& g) {
                          out->append(g.name());
                        })
              .c_str());
    }
    return absl::OkStatus();
  }
  const bool several = result.parameter_gradients.size() > 1;
  for (v1::ParameterGradient& gradient : result.parameter_gradients) {
    absl::StatusOr<NpyArray> array =
        NpyFromTensor(std::move(*gradient.mutable_gradient()));
    if (!array.ok()) return array.status();
    const std::string path =
        ParamGradPath(flags.param_grad_out, gradient.name(), several);
    absl::Status status = WriteNpyFile(path, *array);
    if (!status.ok()) return status;
    if (!flags.quiet) {
      std::printf("%s: gradient of %s\n", path.c_str(),
                  gradient.name().c_str());
    }
  }
  return absl::OkStatus();
}

absl::Status Eval(const EvalFlags& flags) {
  absl::StatusOr<EvaluationRequest> parsed =
      ParseRequestFlags(flags.fn, flags.params, flags.mode);
  if (!parsed.ok()) return parsed.status();
  EvaluationRequest& request = *parsed;
  if ((request.mode == v1::MODE_BACKWARD) == flags.grad.empty()) {
    return absl::InvalidArgumentError(
        "--grad is required with --mode=backward and only then");
  }
  // --out is truncated when the output starts: an input that is the same
  // file is read whole first.
  absl::StatusOr<std::unique_ptr<NpyInputFile>> input = NpyInputFile::Open(
      flags.in, flags.bf16, /*may_map=*/!SameFile(flags.in, flags.out));
  if (!input.ok()) return input.status();
  request.input = ViewOf((*input)->array());
  absl::StatusOr<std::unique_ptr<NpyInputFile>> grad;
  if (!flags.grad.empty()) {
    grad = NpyInputFile::Open(flags.grad, flags.bf16,
                              /*may_map=*/!SameFile(flags.grad, flags.out));
    if (!grad.ok()) return grad.status();
    request.grad_output = ViewOf((*grad)->array());
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(flags.connection);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<v1::ActivationService::Stub> stub =
      v1::ActivationService::NewStub(*channel);
  TransferOptions transfer = flags.transfer;
  transfer.deadline = flags.connection.deadline;
  // The bar draws over itself with \r, which only makes sense on a terminal.
  std::optional<ProgressBar> progress;
  const int64_t input_bytes =
      request.input.data.size() +
      (request.grad_output ? request.grad_output->data.size() : 0);
  if (!flags.quiet && isatty(STDERR_FILENO) &&
      input_bytes >= kProgressMinBytes) {
    progress.emplace(stderr);
    transfer.progress = &*progress;
  }
  // The output is written into the file as it arrives.
  std::unique_ptr<MappedNpyFile> output;
  transfer.output_allocator = [&](const v1::TensorHeader& header,
                                  int64_t bytes) -> absl::StatusOr<char*> {
    absl::StatusOr<NpyType> type = NpyTypeOf(header.dtype());
    if (!type.ok()) return type.status();
    NpyArray layout;
    layout.shape.assign(header.shape().begin(), header.shape().end());
    layout.type = *type;
    absl::StatusOr<std::unique_ptr<MappedNpyFile>> file =
        MappedNpyFile::Create(flags.out, layout, bytes);
    if (!file.ok()) return file.status();
    output = *std::move(file);
    return output->data();
  };
  absl::StatusOr<EvaluationResult> result = Evaluate(*stub, request, transfer);
  progress.reset();  // ends the bar's line before anything else prints
  const bool created = output != nullptr;
  output.reset();
  if (!result.ok()) {
    // No half-written output left behind.
    if (created) std::remove(flags.out.c_str());
    return result.status();
  }
  return WriteResult(flags, *std::move(result));
}

}  // namespace

int RunEval(absl::Span<const std::string> args) {
  EvalFlags eval;
  FlagSet flags(
      "actserve-client eval --fn=NAME --in=X.npy --out=Y.npy [flags]",
      "Evaluates an activation on a NumPy .npy array (float16, float32,\n"
      "float64, or bfloat16 stored as uint16 with --bf16; C order, little\n"
      "endian) and writes the result as .npy. Arrays larger than one message\n"
      "go over the EvaluateStream RPC automatically.\n\n"
      "Example:\n"
      "  actserve-client eval --fn=gelu --mode=backward --in=x.npy "
      "--grad=g.npy --out=gx.npy");
  flags.AddString("fn", &eval.fn, "Activation name (see `list`).", "NAME");
  flags.AddRepeated("param", &eval.params,
                    "Activation parameter: alpha, beta, min, max, threshold, "
                    "axis, pieces, or channel_alpha=0.1,0.2|FILE.npy.",
                    "KEY=VALUE");
  flags.AddString("mode", &eval.mode, "forward, derivative or backward.",
                  "MODE");
  flags.AddString("in", &eval.in, "Input x (.npy).", "FILE");
  flags.AddString("grad", &eval.grad,
                  "Gradient of the output (.npy), backward mode only.", "FILE");
  flags.AddString("out", &eval.out, "Where to write the result (.npy).",
                  "FILE");
  flags.AddString("param-grad-out", &eval.param_grad_out,
                  "Where to write the gradient of a learnable parameter "
                  "(prelu alpha, swish beta) in backward mode.",
                  "FILE");
  flags.AddBool("bf16", &eval.bf16,
                "uint16 (<u2) arrays hold bfloat16; the output is written "
                "the same way.");
  flags.AddBool("quiet", &eval.quiet,
                "Print nothing on success and show no progress bar.");
  flags.AddInt("stream-threshold", &eval.transfer.stream_threshold_bytes,
               "Inputs larger than this go over EvaluateStream.", "BYTES");
  flags.AddInt("chunk-bytes", &eval.transfer.chunk_bytes,
               "Bytes per streamed message and per response chunk; 0: the "
               "server's default.",
               "BYTES");
  AddConnectionFlags(flags, &eval.connection);
  flags.Require("fn");
  flags.Require("in");
  flags.Require("out");
  if (std::optional<int> exit = ParseCommandLine(flags, args)) return *exit;
  absl::Status status = Eval(eval);
  if (!status.ok()) return ReportFailure("eval", status);
  return kExitOk;
}

}  // namespace actserve::client
