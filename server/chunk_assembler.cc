#include "server/chunk_assembler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace actserve {

ChunkAssembler::ChunkAssembler(int64_t units, int64_t x_unit_elements,
                               int64_t grad_unit_elements, size_t item_size,
                               size_t max_buffered_bytes)
    : units_(units),
      item_size_(item_size),
      max_buffered_bytes_(max_buffered_bytes),
      has_grad_(grad_unit_elements > 0),
      x_{"data.x", "data.x_offset", x_unit_elements, units * x_unit_elements},
      grad_{"data.grad_output", "data.grad_offset", grad_unit_elements,
            units * grad_unit_elements} {}

absl::Status ChunkAssembler::Append(int64_t x_offset, std::string x,
                                    int64_t grad_offset,
                                    std::string grad_output) {
  if (!has_grad_ && !grad_output.empty()) {
    return absl::InvalidArgumentError(
        "data.grad_output: only MODE_BACKWARD takes grad_output");
  }
  absl::Status status = AppendTo(x_, x_offset, std::move(x));
  if (!status.ok()) return status;
  status = AppendTo(grad_, grad_offset, std::move(grad_output));
  if (!status.ok()) return status;
  // The reader stops while a piece waits, so a client that interleaves x and
  // grad_output never gets here; one that sends only x would otherwise have
  // the whole tensor buffered.
  if (has_grad_ && buffered_bytes() > max_buffered_bytes_) {
    const bool x_ahead = ReceivedUnits(x_) > ReceivedUnits(grad_);
    const Lane& ahead = x_ahead ? x_ : grad_;
    const Lane& behind = x_ahead ? grad_ : x_;
    return absl::ResourceExhaustedError(absl::StrCat(
        ahead.name, ": ", ahead.received_elements, " elements received but ",
        behind.name, " only ", behind.received_elements, "; ", buffered_bytes(),
        " bytes would wait (limit ", max_buffered_bytes_,
        "): send the two interleaved"));
  }
  return absl::OkStatus();
}

absl::Status ChunkAssembler::AppendTo(Lane& lane, int64_t offset,
                                      std::string bytes) {
  if (bytes.empty()) return absl::OkStatus();
  if (bytes.size() % item_size_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        lane.name, ": ", bytes.size(), " bytes is not a whole number of ",
        item_size_, "-byte elements"));
  }
  if (offset != lane.received_elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        lane.offset_name, ": is ", offset, " but the data so far ends at ",
        lane.received_elements,
        offset < lane.received_elements ? " (pieces must not overlap)"
                                        : " (pieces must not leave gaps)"));
  }
  const int64_t elements = static_cast<int64_t>(bytes.size() / item_size_);
  if (elements > lane.total_elements - lane.received_elements) {
    return absl::InvalidArgumentError(
        absl::StrCat(lane.name, ": ", elements, " more elements after ",
                     lane.received_elements, " exceed the ",
                     lane.total_elements, " the header declared"));
  }
  lane.received_elements += elements;
  if (lane.begin == lane.buffer.size()) {
    // Nothing pending: keep the message's buffer instead of copying it.
    lane.buffer = std::move(bytes);
  } else {
    lane.buffer.erase(0, lane.begin);
    lane.buffer.append(bytes);
  }
  lane.begin = 0;
  return absl::OkStatus();
}

int64_t ChunkAssembler::ReceivedUnits(const Lane& lane) const {
  // A tensor without elements has zero-sized units and nothing to receive.
  if (lane.unit_elements == 0) return 0;
  return lane.received_elements / lane.unit_elements;
}

int64_t ChunkAssembler::ready_units() const {
  int64_t received = ReceivedUnits(x_);
  if (has_grad_) received = std::min(received, ReceivedUnits(grad_));
  return received - taken_units_;
}

ChunkAssembler::Piece ChunkAssembler::Take(int64_t max_units) {
  const int64_t count = std::min(max_units, ready_units());
  Piece piece{taken_units_, count, x_.buffer.data() + x_.begin, nullptr};
  x_.begin += static_cast<size_t>(count * x_.unit_elements) * item_size_;
  if (has_grad_) {
    piece.grad_output = grad_.buffer.data() + grad_.begin;
    grad_.begin +=
        static_cast<size_t>(count * grad_.unit_elements) * item_size_;
  }
  taken_units_ += count;
  return piece;
}

bool ChunkAssembler::all_received() const {
  return x_.received_elements == x_.total_elements &&
         grad_.received_elements == grad_.total_elements;
}

size_t ChunkAssembler::buffered_bytes() const {
  return (x_.buffer.size() - x_.begin) + (grad_.buffer.size() - grad_.begin);
}

}  // namespace actserve
