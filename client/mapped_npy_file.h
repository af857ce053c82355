#ifndef ACTSERVE_CLIENT_MAPPED_NPY_FILE_H_
#define ACTSERVE_CLIENT_MAPPED_NPY_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/npy.h"

namespace actserve::client {

// A .npy file created at its final size and mapped, so that an output the
// server streams back is copied once, into the page cache, as it arrives:
// no array in memory and no write at the end (on a 256 MiB output those
// cost more than the transfer's own copies).
class MappedNpyFile {
 public:
  // Creates (or truncates) `path` with the preamble for `layout`'s shape and
  // type (its data is ignored) and room for `data_bytes` after it. The room
  // is allocated on disk now, so a full disk fails here rather than as a
  // SIGBUS on a write through the mapping.
  static absl::StatusOr<std::unique_ptr<MappedNpyFile>> Create(
      const std::string& path, const NpyArray& layout, int64_t data_bytes);

  MappedNpyFile(const MappedNpyFile&) = delete;
  MappedNpyFile& operator=(const MappedNpyFile&) = delete;
  ~MappedNpyFile();  // unmaps and closes; the kernel writes the pages back

  char* data() { return map_ + preamble_bytes_; }

 private:
  MappedNpyFile(int fd, char* map, size_t map_bytes, size_t preamble_bytes)
      : fd_(fd),
        map_(map),
        map_bytes_(map_bytes),
        preamble_bytes_(preamble_bytes) {}

  int fd_;
  char* map_;
  size_t map_bytes_;
  size_t preamble_bytes_;
};

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_MAPPED_NPY_FILE_H_
