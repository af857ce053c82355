#include "server/output_chunker.h"

#include <algorithm>
#include <string>

#include "server/proto_conversion.h"

namespace actserve {

bool NothingToCompute(const Evaluation& evaluation) {
  return evaluation.input_elements() == 0 || evaluation.output_elements() == 0;
}

namespace {

int64_t RoundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

}  // namespace

OutputChunker::OutputChunker(const Evaluation& evaluation, int64_t chunk_bytes,
                             int32_t input_index)
    : evaluation_(evaluation),
      item_size_(static_cast<int64_t>(ItemSize(evaluation.dtype()))),
      chunk_elements_(std::max<int64_t>(1, chunk_bytes / item_size_)),
      input_index_(input_index),
      units_per_piece_(std::max<int64_t>(
          1,
          chunk_elements_ / std::max<int64_t>(1, evaluation.output_unit()))) {
  // Pieces that begin on the core's block boundaries give parameter
  // gradients bit for bit equal to one Run over the whole tensor.
  if (!evaluation.NewParameterGradients().empty()) {
    units_per_piece_ = RoundUp(units_per_piece_, evaluation.block_units());
  }
}

v1::OutputChunk* OutputChunker::NewChunk(AddChunk add_chunk,
                                         int64_t element_offset) const {
  v1::OutputChunk* chunk = add_chunk();
  chunk->set_input_index(input_index_);
  chunk->set_element_offset(element_offset);
  if (element_offset == 0) {
    v1::TensorHeader* header = chunk->mutable_header();
    header->mutable_shape()->Assign(evaluation_.output_shape().begin(),
                                    evaluation_.output_shape().end());
    header->set_dtype(DTypeToProto(evaluation_.dtype()));
  }
  return chunk;
}

absl::Status OutputChunker::ComputePiece(
    int64_t first_unit, int64_t count, const void* x, const void* grad_output,
    std::vector<ParameterGradient>* param_grads, AddChunk add_chunk) const {
  const int64_t first_element = first_unit * evaluation_.output_unit();
  const int64_t elements = count * evaluation_.output_unit();
  if (elements <= chunk_elements_) {
    // The common case: the piece is exactly one chunk, computed in place.
    std::string* data = NewChunk(add_chunk, first_element)->mutable_data();
    data->resize(static_cast<size_t>(elements * item_size_));
    return evaluation_.Run(first_unit, count, x, grad_output, data->data(),
                           param_grads);
  }
  std::string output(static_cast<size_t>(elements * item_size_), '\0');
  absl::Status status = evaluation_.Run(first_unit, count, x, grad_output,
                                        output.data(), param_grads);
  if (!status.ok()) return status;
  for (int64_t done = 0; done < elements; done += chunk_elements_) {
    const int64_t n = std::min(chunk_elements_, elements - done);
    NewChunk(add_chunk, first_element + done)
        ->set_data(output.data() + done * item_size_,
                   static_cast<size_t>(n * item_size_));
  }
  return absl::OkStatus();
}

void OutputChunker::AddEmptyOutput(AddChunk add_chunk) const {
  NewChunk(add_chunk, 0);
}

}  // namespace actserve
