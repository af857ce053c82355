#include "client/mapped_npy_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace actserve::client {

absl::StatusOr<std::unique_ptr<MappedNpyFile>> MappedNpyFile::Create(
    const std::string& path, const NpyArray& layout, int64_t data_bytes) {
  const std::string preamble = SerializeNpyHeader(layout);
  const size_t map_bytes = preamble.size() + data_bytes;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  // posix_fallocate returns the error rather than setting errno.
  if (const int error = ::posix_fallocate(fd, 0, map_bytes); error != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate ", map_bytes, " bytes for ", path, ": ",
                     std::strerror(error)));
  }
  void* map =
      ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    const int error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return absl::InternalError(
        absl::StrCat("cannot map ", path, ": ", std::strerror(error)));
  }
  std::memcpy(map, preamble.data(), preamble.size());
  return std::unique_ptr<MappedNpyFile>(new MappedNpyFile(
      fd, static_cast<char*>(map), map_bytes, preamble.size()));
}

MappedNpyFile::~MappedNpyFile() {
  ::munmap(map_, map_bytes_);
  ::close(fd_);
}

}  // namespace actserve::client
