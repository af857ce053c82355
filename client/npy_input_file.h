#ifndef ACTSERVE_CLIENT_NPY_INPUT_FILE_H_
#define ACTSERVE_CLIENT_NPY_INPUT_FILE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/npy.h"

namespace actserve::client {

// An .npy file to send. A regular file is mapped read-only and its array
// sent slice by slice straight from the page cache: reading 256 MiB into
// fresh memory first costs more than the transfer's own copies. Anything
// else (a pipe) is read whole.
class NpyInputFile {
 public:
  // Errors name `path`, as ReadNpyFile's do. `may_map` false reads the
  // file whole: for a file that is about to be truncated (the output of the
  // same call), whose mapped pages would vanish under the reader.
  static absl::StatusOr<std::unique_ptr<NpyInputFile>> Open(
      const std::string& path, bool uint16_as_bfloat16, bool may_map = true);

  NpyInputFile(const NpyInputFile&) = delete;
  NpyInputFile& operator=(const NpyInputFile&) = delete;
  ~NpyInputFile();

  const NpyView& array() const { return view_; }

 private:
  NpyInputFile() = default;

  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  NpyArray read_;  // what was read when the file could not be mapped
  NpyView view_;
};

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_NPY_INPUT_FILE_H_
