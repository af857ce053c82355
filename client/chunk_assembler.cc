#include "client/chunk_assembler.h"

#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"
#include "client/tensor.h"

namespace actserve::client {

absl::Status ChunkAssembler::Add(const v1::OutputChunk& chunk) {
  if (chunk.has_header()) {
    if (has_header_) {
      return absl::InternalError("the server sent a second output header");
    }
    const size_t item_size = ItemSize(chunk.header().dtype());
    if (item_size == 0) {
      return absl::InternalError("the server sent an output without dtype");
    }
    int64_t elements = 1;
    for (int64_t dim : chunk.header().shape()) {
      if (dim < 0 ||
          (dim != 0 && elements > (std::numeric_limits<int64_t>::max() /
                                   static_cast<int64_t>(item_size)) /
                                      dim)) {
        return absl::InternalError("the server sent an impossible shape");
      }
      elements *= dim;
    }
    tensor_.mutable_shape()->CopyFrom(chunk.header().shape());
    tensor_.set_dtype(chunk.header().dtype());
    expected_bytes_ = elements * item_size;
    if (allocate_) {
      absl::StatusOr<char*> output = allocate_(chunk.header(), expected_bytes_);
      if (!output.ok()) return output.status();
      output_ = *output;
    } else {
      tensor_.mutable_data()->resize(expected_bytes_);
      output_ = tensor_.mutable_data()->data();
    }
    has_header_ = true;
  } else if (!has_header_) {
    return absl::InternalError("the server sent output data before its header");
  }

  const int64_t item_size = ItemSize(tensor_.dtype());
  const int64_t size = chunk.data().size();
  if (size % item_size != 0 || chunk.element_offset() < 0 ||
      chunk.element_offset() > expected_bytes() / item_size ||
      size > expected_bytes() - chunk.element_offset() * item_size) {
    return absl::InternalError(absl::StrCat(
        "the server sent ", size, " bytes at element ", chunk.element_offset(),
        " of an output of ", expected_bytes(), " bytes"));
  }
  if (size == 0) return absl::OkStatus();
  int64_t begin = chunk.element_offset() * item_size;
  int64_t end = begin + size;
  // The first range starting after `begin`, and the one before it, are the
  // only ones that could overlap the new range.
  auto next = received_.upper_bound(begin);
  if ((next != received_.end() && next->first < end) ||
      (next != received_.begin() && std::prev(next)->second > begin)) {
    return absl::InternalError(absl::StrCat("the server sent element ",
                                            chunk.element_offset(), " twice"));
  }
  chunk.data().copy(output_ + begin, size);
  if (next != received_.end() && next->first == end) {
    end = next->second;
    next = received_.erase(next);
  }
  if (next != received_.begin() && std::prev(next)->second == begin) {
    std::prev(next)->second = end;
  } else {
    received_.emplace(begin, end);
  }
  return absl::OkStatus();
}

absl::Status ChunkAssembler::Finish() const {
  if (!has_header_) {
    return absl::InternalError("the server sent no output");
  }
  const bool complete =
      expected_bytes() == 0 ||
      (received_.size() == 1 && received_.begin()->first == 0 &&
       received_.begin()->second == expected_bytes());
  if (!complete) {
    return absl::InternalError("the server's output is missing elements");
  }
  return absl::OkStatus();
}

}  // namespace actserve::client
