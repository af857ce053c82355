#ifndef ACTSERVE_SERVER_CHUNK_ASSEMBLER_H_
#define ACTSERVE_SERVER_CHUNK_ASSEMBLER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace actserve {

// Reassembles one EvaluateStream tensor from StreamData messages, which may
// split x and grad_output at any element, and hands out whole units in order
// (see Evaluation). It holds only bytes that have arrived and not yet been
// taken, so memory follows the message size, not the tensor size.
class ChunkAssembler {
 public:
  // `grad_unit_elements` is 0 when the mode takes no grad_output.
  // At most `max_buffered_bytes` may wait for the other input.
  ChunkAssembler(int64_t units, int64_t x_unit_elements,
                 int64_t grad_unit_elements, size_t item_size,
                 size_t max_buffered_bytes);

  // Checks that each non-empty part continues exactly where the previous one
  // ended and stays within the tensor, then keeps its bytes. Errors are
  // InvalidArgument naming the StreamData field, or ResourceExhausted when
  // one input runs so far ahead of the other (x without grad_output, say)
  // that more than max_buffered_bytes would wait.
  absl::Status Append(int64_t x_offset, std::string x, int64_t grad_offset,
                      std::string grad_output);

  // Units whose inputs are all buffered and not yet taken.
  int64_t ready_units() const;

  struct Piece {
    int64_t first_unit;
    int64_t count;
    const char* x;
    const char* grad_output;  // null without grad_output
  };
  // Takes up to `max_units` ready units (at least one must be ready). The
  // pointers stay valid until the next Append.
  Piece Take(int64_t max_units);

  bool all_received() const;
  bool all_taken() const { return taken_units_ == units_; }
  size_t buffered_bytes() const;

 private:
  // One input (x or grad_output) and its buffered bytes.
  struct Lane {
    absl::string_view name;
    absl::string_view offset_name;
    int64_t unit_elements;
    int64_t total_elements;
    int64_t received_elements = 0;
    // Bytes from `begin` on are received and not yet taken.
    std::string buffer;
    size_t begin = 0;
  };
  absl::Status AppendTo(Lane& lane, int64_t offset, std::string bytes);
  int64_t ReceivedUnits(const Lane& lane) const;

  int64_t units_;
  size_t item_size_;
  size_t max_buffered_bytes_;
  bool has_grad_;
  int64_t taken_units_ = 0;
  Lane x_;
  Lane grad_;
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_CHUNK_ASSEMBLER_H_
