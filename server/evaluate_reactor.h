#ifndef ACTSERVE_SERVER_EVALUATE_REACTOR_H_
#define ACTSERVE_SERVER_EVALUATE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "actserve/v1/actserve.pb.h"
#include "core/evaluation.h"
#include "server/call_log.h"
#include "server/server_config.h"
#include "server/stream_limiter.h"

namespace actserve {

// One Evaluate call. The request is checked up front; then the outputs are
// computed a chunk at a time on the shared pool while earlier chunks are on
// the wire, with at most kMaxPendingResponses computed and unsent, so a slow
// client holds the server to a few chunks of memory. Deletes itself when gRPC
// is done with the call.
class EvaluateReactor : public grpc::ServerWriteReactor<v1::EvaluateResponse> {
 public:
  EvaluateReactor(grpc::CallbackServerContext* context,
                  const v1::EvaluateRequest* request,
                  const ServerConfig& config, StreamLimiter::Permit permit,
                  CallLog log);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  static constexpr size_t kMaxPendingResponses = 2;

  // Checks the request and creates one Evaluation per input.
  absl::Status Prepare(const ServerConfig& config);
  // Runs on the pool: the next piece of the current output.
  void ComputeNextPiece();
  // Adds the messages that follow the last chunk of input `next_input_`.
  void FinishInput(std::vector<std::unique_ptr<v1::EvaluateResponse>>* out);
  // Decides what to do next under the lock and does it outside the lock:
  // gRPC operations are not started while holding mu_.
  void Advance();

  grpc::CallbackServerContext* const context_;
  const v1::EvaluateRequest& request_;
  const StreamLimiter::Permit permit_;

  // Set by Prepare, then read-only.
  std::vector<Evaluation> evaluations_;
  int64_t chunk_bytes_ = 0;

  // Compute progress: touched only by the single compute task in flight
  // (computing_ hands it over, and mu_ orders the hand-overs).
  size_t next_input_ = 0;
  int64_t next_unit_ = 0;
  std::vector<ParameterGradient> param_grads_;
  absl::Duration compute_time_;

  absl::Mutex mu_;
  // Computed and not yet sent; the front one is on the wire when writing_.
  std::deque<std::unique_ptr<v1::EvaluateResponse>> pending_
      ABSL_GUARDED_BY(mu_);
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
