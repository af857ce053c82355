// The client's .npy reader on any file. The first byte chooses whether '<u2'
// means bfloat16; the rest is the file. A file either is rejected with a
// message, or parses to an array whose data matches its shape and which
// survives a write and a re-read unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "client/npy.h"

namespace actserve::client {
namespace {

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void ParseOnce(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const bool uint16_as_bfloat16 = (data[0] & 1) != 0;
  const absl::string_view file(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  const absl::StatusOr<NpyArray> array = ParseNpy(file, uint16_as_bfloat16);
  if (!array.ok()) {
    Require(!array.status().message().empty(), "a rejection says why");
    return;
  }
  Require(array->data.size() == static_cast<uint64_t>(array->ElementCount()) *
                                    NpyItemSize(array->type),
          "the data is what the shape and dtype say");
  const absl::StatusOr<NpyArray> again =
      ParseNpy(SerializeNpy(*array), uint16_as_bfloat16);
  Require(again.ok(), "what was read can be written and read back");
  Require(again->shape == array->shape && again->type == array->type &&
              again->data == array->data,
          "a write and a re-read change nothing");
}

}  // namespace
}  // namespace actserve::client

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  actserve::client::ParseOnce(data, size);
  return 0;
}
