#ifndef ACTSERVE_SERVER_ACTIVATION_SERVICE_H_
#define ACTSERVE_SERVER_ACTIVATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "actserve/v1/actserve.grpc.pb.h"
#include "server/metrics.h"
#include "server/server_config.h"
#include "server/stream_limiter.h"

namespace actserve {

// Every method as a raw callback: messages arrive and leave as bytes, parsed
// and serialized in message_bytes.h, so a request that is not valid protobuf
// gets INVALID_ARGUMENT rather than gRPC's UNIMPLEMENTED.
using RawActivationService =
    v1::ActivationService::WithRawCallbackMethod_ListActivations<
        v1::ActivationService::WithRawCallbackMethod_Evaluate<
            v1::ActivationService::WithRawCallbackMethod_EvaluateStream<
                v1::ActivationService::Service>>>;

// actserve.v1.ActivationService on gRPC's callback API. Each streaming call is
// a reactor that computes on the core's shared pool, so no gRPC thread ever
// blocks on arithmetic.
class ActivationService final : public RawActivationService {
 public:
  // `config` and `metrics` (null: none) must outlive the service.
  ActivationService(const ServerConfig& config, Metrics* metrics);

  grpc::ServerUnaryReactor* ListActivations(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Evaluate(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* EvaluateStream(
      grpc::CallbackServerContext* context) override;

 private:
  const ServerConfig& config_;
  Metrics* const metrics_;
  StreamLimiter limiter_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_ACTIVATION_SERVICE_H_
