#include "tests/fuzz/output_tally.h"

#include "core/dtype.h"
#include "server/proto_conversion.h"
#include "tests/fuzz/fuzz_server.h"

namespace actserve::fuzzing {

void OutputTally::Add(const v1::OutputChunk& chunk) {
  if (chunk.has_header()) {
    Require(chunk.input_index() == outputs(), "outputs come in order");
    Require(chunk.element_offset() == 0, "a header starts its output");
    const absl::StatusOr<DType> dtype = DTypeFromProto(chunk.header().dtype());
    Require(dtype.ok(), "the header names a dtype");
    int64_t elements = 1;
    for (int64_t dim : chunk.header().shape()) {
      Require(dim >= 0, "dimensions are not negative");
      elements *= dim;
    }
    outputs_.push_back({elements, ItemSize(*dtype)});
  } else {
    Require(chunk.input_index() == outputs() - 1,
            "a chunk without a header continues the current output");
  }
  Output& output = outputs_.back();
  Require(chunk.element_offset() == output.received_elements,
          "chunks are contiguous");
  Require(chunk.data().size() % output.item_size == 0,
          "chunks hold whole elements");
  output.received_elements +=
      static_cast<int64_t>(chunk.data().size() / output.item_size);
  Require(output.received_elements <= output.expected_elements,
          "no more elements than the shape says");
}

void OutputTally::CheckComplete(int index, int64_t elements) const {
  Require(index < outputs(), "every tensor has an output");
  const Output& output = outputs_[static_cast<size_t>(index)];
  Require(output.received_elements == output.expected_elements,
          "every output is complete");
  Require(elements < 0 || elements == output.expected_elements,
          "the reported element count is the output's");
}

}  // namespace actserve::fuzzing
