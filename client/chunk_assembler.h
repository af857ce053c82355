#ifndef ACTSERVE_CLIENT_CHUNK_ASSEMBLER_H_
#define ACTSERVE_CLIENT_CHUNK_ASSEMBLER_H_

#include <cstdint>
#include <map>

#include "absl/status/status.h"
#include "actserve/v1/actserve.pb.h"

namespace actserve::client {

// Rebuilds one output tensor from the OutputChunks the server streams back,
// checking what a bug on either side would break: a header first, chunks in
// bounds and whole elements, no overlap, and every byte covered at the end.
class ChunkAssembler {
 public:
  absl::Status Add(const v1::OutputChunk& chunk);
  // Fails unless the header came and every element was received.
  absl::Status Finish() const;

  bool has_header() const { return has_header_; }
  // Size of the whole output; 0 until the header came.
  int64_t expected_bytes() const { return tensor_.data().size(); }
  v1::Tensor& tensor() { return tensor_; }

 private:
  bool has_header_ = false;
  v1::Tensor tensor_;
  // Received byte ranges, begin -> end, adjacent ones merged.
  std::map<int64_t, int64_t> received_;
};

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_CHUNK_ASSEMBLER_H_
