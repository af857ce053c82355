#ifndef ACTSERVE_CLIENT_CHUNK_ASSEMBLER_H_
#define ACTSERVE_CLIENT_CHUNK_ASSEMBLER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actserve/v1/actserve.pb.h"

namespace actserve::client {

// Where an output's bytes go once its header says how many there are:
// `bytes` writable bytes that outlive the assembler (e.g. a mapped file).
using OutputAllocator = std::function<absl::StatusOr<char*>(
    const v1::TensorHeader& header, int64_t bytes)>;

// Rebuilds one output tensor from the OutputChunks the server streams back,
// checking what a bug on either side would break: a header first, chunks in
// bounds and whole elements, no overlap, and every byte covered at the end.
class ChunkAssembler {
 public:
  // Without an allocator the bytes land in tensor().data(); with one, there
  // (and tensor() holds only the shape and dtype).
  explicit ChunkAssembler(OutputAllocator allocate = nullptr)
      : allocate_(std::move(allocate)) {}

  absl::Status Add(const v1::OutputChunk& chunk);
  // Fails unless the header came and every element was received.
  absl::Status Finish() const;

  bool has_header() const { return has_header_; }
  // Size of the whole output; 0 until the header came.
  int64_t expected_bytes() const { return expected_bytes_; }
  v1::Tensor& tensor() { return tensor_; }

 private:
  OutputAllocator allocate_;
  bool has_header_ = false;
  int64_t expected_bytes_ = 0;
  char* output_ = nullptr;
  v1::Tensor tensor_;
  // Received byte ranges, begin -> end, adjacent ones merged.
  std::map<int64_t, int64_t> received_;
};

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_CHUNK_ASSEMBLER_H_
