#include "client/npy_input_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace actserve::client {

absl::StatusOr<std::unique_ptr<NpyInputFile>> NpyInputFile::Open(
    const std::string& path, bool uint16_as_bfloat16, bool may_map) {
  std::unique_ptr<NpyInputFile> input(new NpyInputFile);
  // stat, not open: opening a pipe to look at it would consume its writer.
  struct stat info;
  if (may_map && ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0 && ::fstat(fd, &info) == 0 && info.st_size > 0) {
      void* map = ::mmap(nullptr, info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map != MAP_FAILED) {
        input->map_ = map;
        input->map_bytes_ = info.st_size;
        // Read ahead: the whole file is about to be sent in order.
        ::madvise(map, info.st_size, MADV_SEQUENTIAL);
      }
    }
    if (fd >= 0) ::close(fd);  // a mapping outlives its descriptor
  }
  if (input->map_ == nullptr) {
    // Not mappable (a pipe, an empty file) or not openable: ReadNpyFile
    // reads it, or says why it cannot.
    absl::StatusOr<NpyArray> array = ReadNpyFile(path, uint16_as_bfloat16);
    if (!array.ok()) return array.status();
    input->read_ = *std::move(array);
    input->view_ =
        NpyView{input->read_.shape, input->read_.type, input->read_.data};
    return input;
  }
  absl::StatusOr<NpyView> view =
      ParseNpyView(absl::string_view(static_cast<const char*>(input->map_),
                                     input->map_bytes_),
                   uint16_as_bfloat16);
  if (!view.ok()) {
    return absl::Status(view.status().code(),
                        absl::StrCat(path, ": ", view.status().message()));
  }
  input->view_ = *std::move(view);
  return input;
}

NpyInputFile::~NpyInputFile() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

}  // namespace actserve::client
