#include "server/activation_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "server/call_log.h"
#include "server/evaluate_reactor.h"
#include "server/evaluate_stream_reactor.h"
#include "server/message_bytes.h"
#include "server/proto_conversion.h"
#include "server/status_conversion.h"

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
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  CallLog log("ListActivations", metrics_);
  log.AddRequestBytes(request->Length());
  grpc::ByteBuffer request_bytes(*request);
  v1::ListActivationsRequest parsed;
  absl::Status status = ParseRequest(request_bytes, &parsed);
  if (status.ok()) {
    v1::ListActivationsResponse catalog;
    for (const ActivationDef* def : AllActivations()) {
      ActivationInfoToProto(*def, catalog.add_activations());
    }
    absl::StatusOr<grpc::ByteBuffer> bytes = SerializeResponse(catalog);
    status = bytes.status();
    if (bytes.ok()) {
      response->Swap(&*bytes);
      log.AddResponseBytes(response->Length());
    }
  }
  const grpc::Status finish = ToGrpcStatus(status);
  log.Write(finish);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(finish);
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ActivationService::Evaluate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  CallLog log("Evaluate", metrics_);
  log.AddRequestBytes(request->Length());
  std::optional<StreamLimiter::Permit> permit = limiter_.TryAcquire();
  if (!permit.has_value()) {
    return new RefusedCall<grpc::ServerWriteReactor<grpc::ByteBuffer>>(
        std::move(log), TooManyStreams(limiter_.max_active()));
  }
  return new EvaluateReactor(context, request, config_, *std::move(permit),
                             std::move(log));
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
ActivationService::EvaluateStream(grpc::CallbackServerContext* context) {
  CallLog log("EvaluateStream", metrics_);
  std::optional<StreamLimiter::Permit> permit = limiter_.TryAcquire();
  if (!permit.has_value()) {
    return new RefusedCall<
        grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>>(
        std::move(log), TooManyStreams(limiter_.max_active()));
  }
  return new EvaluateStreamReactor(context, config_, *std::move(permit),
                                   std::move(log));
}

}  // namespace actserve
