#ifndef ACTSERVE_SERVER_EVALUATE_STREAM_REACTOR_H_
#define ACTSERVE_SERVER_EVALUATE_STREAM_REACTOR_H_

#include <grpcpp/grpcpp.h>

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
#include "server/chunk_assembler.h"
#include "server/output_chunker.h"
#include "server/server_config.h"
#include "server/stream_limiter.h"

namespace actserve {

// One EvaluateStream call: per tensor a StreamHeader, then StreamData pieces.
// Input is computed on the shared pool a piece (one chunk of results) at a
// time as soon as a whole piece has arrived (or the tensor's last units),
// while the next message is being received and earlier results are on the
// wire. The next message is read only when few results wait to be sent and
// less than a piece of input is buffered, so memory stays a few chunks plus
// one request message however long the tensor is.
//
// Protocol errors end the call: a message that does not parse and malformed
// content (bad offsets, sizes, shapes) with INVALID_ARGUMENT; messages out of
// order (data before a header, a header while a tensor still lacks data, the
// stream ending mid-tensor) with FAILED_PRECONDITION. Deletes itself when gRPC
// is done with the call.
class EvaluateStreamReactor
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  EvaluateStreamReactor(grpc::CallbackServerContext* context,
                        const ServerConfig& config,
                        StreamLimiter::Permit permit, CallLog log);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  static constexpr size_t kMaxPendingResponses = 2;

  // The tensor being received.
  struct Tensor {
    Tensor(int32_t index, Evaluation evaluation, int64_t chunk_bytes,
           int64_t max_message_bytes);

    const int32_t index;
    const Evaluation evaluation;
    const OutputChunker chunker;
    ChunkAssembler assembler;
    std::vector<ParameterGradient> param_grads;
    absl::Duration compute_time;
  };

  // Handles request_ (a header or data) once no compute is running.
  void ProcessMessage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartTensor(const v1::StreamHeader& header)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues StreamTensorDone and forgets the tensor.
  void CompleteTensor() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Serializes `responses` onto pending_ (or sets status_ if that fails).
  void QueueResponses(const std::vector<v1::EvaluateStreamResponse>& responses)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs on the pool.
  void Compute(ChunkAssembler::Piece piece);
  // Decides what to do next under the lock and does it outside the lock:
  // gRPC operations are not started while holding mu_.
  // `read_started`: called right after StartRead, to count it started in the
  // same critical section that may decide to finish. `compute_done`: called
  // by the compute task as it ends, which clears computing_ there too.
  void Advance(bool read_started = false, bool compute_done = false);

  grpc::CallbackServerContext* const context_;
  const ServerConfig& config_;
  // Given back as the call finishes, before the client can see its status.
  StreamLimiter::Permit permit_;

  absl::Mutex mu_;
  // Target of the outstanding read, parsed into request_ by OnReadDone
  // before it takes mu_: no one else touches either while reading_.
  grpc::ByteBuffer read_buffer_;
  // While message_waiting_, the message read and not yet handled because a
  // compute still uses the tensor; request_status_ says whether it parsed.
  v1::EvaluateStreamRequest request_;
  absl::Status request_status_ ABSL_GUARDED_BY(mu_);
  int64_t messages_read_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Tensor> tensor_ ABSL_GUARDED_BY(mu_);
  int32_t next_tensor_index_ ABSL_GUARDED_BY(mu_) = 0;
  // Computed (and serialized) and not yet sent; the front one is on the wire
  // when writing_.
  std::deque<grpc::ByteBuffer> pending_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  // Reads decided whose StartRead has not returned yet: Finish must wait
  // for them, or OnDone could delete the reactor before StartRead runs. A
  // count, as the next read may be decided before the last StartRead returns.
  int starting_reads_ ABSL_GUARDED_BY(mu_) = 0;
  bool message_waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // While set, a pool task uses *tensor_ and the bytes it took.
  bool computing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  CallLog log_ ABSL_GUARDED_BY(mu_);
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_EVALUATE_STREAM_REACTOR_H_
