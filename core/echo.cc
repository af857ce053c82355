#include "core/echo.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace actserve {

std::string EchoText(absl::string_view text) {
  std::string echo = absl::CHexEscape(text.substr(0, kMaxEchoBytes));
  if (text.size() > kMaxEchoBytes) {
    absl::StrAppend(&echo, "…(", text.size(), " bytes)");
  }
  return echo;
}

std::string EchoShape(absl::Span<const int64_t> shape) {
  if (shape.size() <= kMaxEchoDimensions) {
    return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
  }
  const size_t half = kMaxEchoDimensions / 2;
  return absl::StrCat("[", absl::StrJoin(shape.first(half), ", "), ", …, ",
                      absl::StrJoin(shape.last(half), ", "), "] (rank ",
                      shape.size(), ")");
}

}  // namespace actserve
