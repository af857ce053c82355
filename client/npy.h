#ifndef ACTSERVE_CLIENT_NPY_H_
#define ACTSERVE_CLIENT_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace actserve::client {

// Element types the service accepts. NumPy has no bfloat16, so bfloat16
// arrays travel as '<u2' files and the caller says which one is meant.
enum class NpyType { kFloat16, kFloat32, kFloat64, kBFloat16 };

size_t NpyItemSize(NpyType type);

// A C-order, little-endian array: the layout of the service's Tensor.data.
struct NpyArray {
  std::vector<int64_t> shape;  // empty for a 0-d array (one element)
  NpyType type = NpyType::kFloat32;
  std::string data;

  int64_t ElementCount() const;
};

// Parses a whole .npy file (format versions 1.0, 2.0 and 3.0). Rejects, with
// a message that says why: Fortran order, big-endian data, every dtype but
// float16/32/64 (and '<u2' unless `uint16_as_bfloat16`), and files whose data
// is shorter or longer than the header's shape says.
absl::StatusOr<NpyArray> ParseNpy(absl::string_view file,
                                  bool uint16_as_bfloat16);

// An array inside a buffer the caller keeps alive (e.g. a mapped file).
struct NpyView {
  std::vector<int64_t> shape;
  NpyType type = NpyType::kFloat32;
  absl::string_view data;
};

// ParseNpy without copying the data: the same checks; `data` points into
// `file`.
absl::StatusOr<NpyView> ParseNpyView(absl::string_view file,
                                     bool uint16_as_bfloat16);

// Version 1.0 when the header fits in 64 KiB (always, for sane ranks), else
// 2.0, as numpy.save does.
std::string SerializeNpy(const NpyArray& array);
// The preamble alone (magic, version, header); the data follows it.
std::string SerializeNpyHeader(const NpyArray& array);

absl::StatusOr<NpyArray> ReadNpyFile(const std::string& path,
                                     bool uint16_as_bfloat16);
absl::Status WriteNpyFile(const std::string& path, const NpyArray& array);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_NPY_H_
