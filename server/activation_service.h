#ifndef ACTSERVE_SERVER_ACTIVATION_SERVICE_H_
#define ACTSERVE_SERVER_ACTIVATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "actserve/v1/actserve.grpc.pb.h"
#include "server/metrics.h"
#include "server/server_config.h"
#include "server/stream_limiter.h"

namespace actserve {

// actserve.v1.ActivationService on gRPC's callback API. Each streaming call is
// a reactor that computes on the core's shared pool, so no gRPC thread ever
// blocks on arithmetic.
class ActivationService final : public v1::ActivationService::CallbackService {
 public:
  // `config` and `metrics` (null: none) must outlive the service.
  ActivationService(const ServerConfig& config, Metrics* metrics);

  grpc::ServerUnaryReactor* ListActivations(
      grpc::CallbackServerContext* context,
      const v1::ListActivationsRequest* request,
      v1::ListActivationsResponse* response) override;

  grpc::ServerWriteReactor<v1::EvaluateResponse>* Evaluate(
      grpc::CallbackServerContext* context,
      const v1::EvaluateRequest* request) override;

  grpc::ServerBidiReactor<v1::EvaluateStreamRequest,
                          v1::EvaluateStreamResponse>*
  EvaluateStream(grpc::CallbackServerContext* context) override;

 private:
  const ServerConfig& config_;
  Metrics* const metrics_;
  StreamLimiter limiter_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_ACTIVATION_SERVICE_H_
