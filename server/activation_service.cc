#include "server/activation_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "server/call_log.h"
#include "server/evaluate_reactor.h"
#include "server/evaluate_stream_reactor.h"
#include "server/proto_conversion.h"

namespace actserve {
namespace {

// Ends a call that was refused before it started.
template <typename Reactor>
class RefusedCall : public Reactor {
 public:
  RefusedCall(CallLog log, grpc::Status status) {
    log.Write(status);
    this->Finish(std::move(status));
  }
  void OnDone() override { delete this; }
};

grpc::Status TooManyStreams(int max_active) {
  return grpc::Status(
      grpc::RESOURCE_EXHAUSTED,
      absl::StrCat("the server is already running ", max_active,
                   " streaming calls (--max_concurrent_streams); retry later"));
}

}  // namespace

ActivationService::ActivationService(const ServerConfig& config,
                                     Metrics* metrics)
    : config_(config),
      metrics_(metrics),
      limiter_(config.max_concurrent_streams) {}

grpc::ServerUnaryReactor* ActivationService::ListActivations(
    grpc::CallbackServerContext* context,
    const v1::ListActivationsRequest* request,
    v1::ListActivationsResponse* response) {
  CallLog log("ListActivations", metrics_);
  for (const ActivationDef* def : AllActivations()) {
    ActivationInfoToProto(*def, response->add_activations());
  }
  log.AddRequestBytes(request->ByteSizeLong());
  log.AddResponseBytes(response->ByteSizeLong());
  log.Write(grpc::Status::OK);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::EvaluateResponse>* ActivationService::Evaluate(
    grpc::CallbackServerContext* context, const v1::EvaluateRequest* request) {
  CallLog log("Evaluate", metrics_);
  log.AddRequestBytes(request->ByteSizeLong());
  std::optional<StreamLimiter::Permit> permit = limiter_.TryAcquire();
  if (!permit.has_value()) {
    return new RefusedCall<grpc::ServerWriteReactor<v1::EvaluateResponse>>(
        std::move(log), TooManyStreams(limiter_.max_active()));
  }
  return new EvaluateReactor(context, request, config_, *std::move(permit),
                             std::move(log));
}

grpc::ServerBidiReactor<v1::EvaluateStreamRequest, v1::EvaluateStreamResponse>*
ActivationService::EvaluateStream(grpc::CallbackServerContext* context) {
  CallLog log("EvaluateStream", metrics_);
  std::optional<StreamLimiter::Permit> permit = limiter_.TryAcquire();
  if (!permit.has_value()) {
    return new RefusedCall<grpc::ServerBidiReactor<v1::EvaluateStreamRequest,
                                                   v1::EvaluateStreamResponse>>(
        std::move(log), TooManyStreams(limiter_.max_active()));
  }
  return new EvaluateStreamReactor(context, config_, *std::move(permit),
                                   std::move(log));
}

}  // namespace actserve
