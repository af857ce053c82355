#ifndef ACTSERVE_SERVER_OUTPUT_CHUNKER_H_
#define ACTSERVE_SERVER_OUTPUT_CHUNKER_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "actserve/v1/actserve.pb.h"
#include "core/evaluation.h"

namespace actserve {

// Whether an evaluation has no elements to compute (a dimension is 0). Its
// output is announced by AddEmptyOutput alone.
bool NothingToCompute(const Evaluation& evaluation);

// Computes one Evaluation's output a piece (a run of whole units) at a time
// and cuts it into OutputChunks of at most chunk_bytes whole elements. Both
// Evaluate and EvaluateStream send their results this way, so a client sees
// the same chunking from either.
class OutputChunker {
 public:
  // Hands out a fresh chunk inside the caller's next response message, so
  // results are computed straight into the buffer that goes on the wire.
  using AddChunk = absl::FunctionRef<v1::OutputChunk*()>;

  // `evaluation` must outlive the chunker.
  OutputChunker(const Evaluation& evaluation, int64_t chunk_bytes,
                int32_t input_index);

  // Units per piece: as many as fill one chunk, at least one; in backward
  // mode with learnable parameters, whole blocks of the core's gradient sums
  // (a piece then spans several chunks). A unit whose output exceeds a chunk
  // (a large softmax Jacobian) becomes several chunks too.
  int64_t units_per_piece() const { return units_per_piece_; }

  // Computes units [first_unit, first_unit + count): `x` and `grad_output`
  // (backward only, else null) point at their first element. The first
  // chunk of the output carries the header.
  absl::Status ComputePiece(int64_t first_unit, int64_t count, const void* x,
                            const void* grad_output,
                            std::vector<ParameterGradient>* param_grads,
                            AddChunk add_chunk) const;

  // An output without elements is still announced: one chunk, header only.
  void AddEmptyOutput(AddChunk add_chunk) const;

 private:
  v1::OutputChunk* NewChunk(AddChunk add_chunk, int64_t element_offset) const;

  const Evaluation& evaluation_;
  int64_t item_size_;
  int64_t chunk_elements_;
  int32_t input_index_;
  int64_t units_per_piece_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_OUTPUT_CHUNKER_H_
