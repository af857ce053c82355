#ifndef ACTSERVE_SERVER_EVALUATE_REACTOR_H_
#define ACTSERVE_SERVER_EVALUATE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "actserve/v1/actserve.pb.h"
#include "core/evaluation.h"
#include "google/protobuf/arena.h"
#include "server/call_log.h"
#include "server/server_config.h"
#include "server/stream_limiter.h"

namespace actserve {

// One Evaluate call. The request is checked up front; then the outputs are
// computed a chunk at a time on the shared pool while earlier chunks are on
// the wire, with at most kMaxPendingResponses computed and unsent, so a slow
// client holds the server to a few chunks of memory. Deletes itself when gRPC
// is done with the call.
class EvaluateReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // `request` is the call's undecoded EvaluateRequest.
  EvaluateReactor(grpc::CallbackServerContext* context,
                  const grpc::ByteBuffer* request, const ServerConfig& config,
                  StreamLimiter::Permit permit, CallLog log);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  static constexpr size_t kMaxPendingResponses = 2;

  // Parses and checks the request and creates one Evaluation per input.
  absl::Status Prepare(const grpc::ByteBuffer& request,
                       const ServerConfig& config);
  // Runs on the pool: the next piece of the current output.
  void ComputeNextPiece();
  // Adds the messages that follow the last chunk of input `next_input_`.
  void FinishInput(std::vector<v1::EvaluateResponse>* out);
  // Decides what to do next under the lock and does it outside the lock:
  // gRPC operations are not started while holding mu_.
  // `compute_done`: called by the compute task as it ends, which clears
  // computing_ here, in the same critical section that may decide to finish.
  void Advance(bool compute_done = false);

  grpc::CallbackServerContext* const context_;
  // Given back as the call finishes, before the client can see its status.
  StreamLimiter::Permit permit_;

  // Set by Prepare, then read-only. The request's many small parts (tensors,
  // shapes, the spec) are allocated and freed together.
  google::protobuf::Arena arena_;
  v1::EvaluateRequest& request_;
  std::vector<Evaluation> evaluations_;
  int64_t chunk_bytes_ = 0;

  // Compute progress: touched only by the single compute task in flight
  // (computing_ hands it over, and mu_ orders the hand-overs).
  size_t next_input_ = 0;
  int64_t next_unit_ = 0;
  std::vector<ParameterGradient> param_grads_;
  absl::Duration compute_time_;

  absl::Mutex mu_;
  // Computed (and serialized) and not yet sent; the front one is on the wire
  // when writing_.
  std::deque<grpc::ByteBuffer> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool computing_ ABSL_GUARDED_BY(mu_) = false;
  bool computed_all_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  // Filled in by Prepare (before any concurrency), then used under mu_.
  CallLog log_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_EVALUATE_REACTOR_H_
