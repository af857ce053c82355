#ifndef ACTSERVE_CORE_ECHO_H_
#define ACTSERVE_CORE_ECHO_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// Values a caller sent, quoted back in error messages and log lines. Every
// such echo goes through here, so no request can make a message or a line
// grow with it (gRPC clients refuse status metadata over 8 KiB, which would
// hide the real error) or forge log lines.
namespace actserve {

// Text echoes show at most this many bytes of the value.
inline constexpr size_t kMaxEchoBytes = 48;
// Shape echoes show at most this many dimensions.
inline constexpr size_t kMaxEchoDimensions = 8;

// `text` with control characters, quotes, backslashes and non-ASCII bytes
// C-escaped (\n, \x00, \xc3), cut after kMaxEchoBytes bytes with
// "…(N bytes)" appended: ASCII-safe, a line of its own, and at most about
// 4 * kMaxEchoBytes long.
std::string EchoText(absl::string_view text);

// "[2, 3]"; a rank above kMaxEchoDimensions keeps the first and last few
// dimensions: "[1, 2, 3, 4, …, 7, 8] (rank 100000)".
std::string EchoShape(absl::Span<const int64_t> shape);

}  // namespace actserve

#endif  // ACTSERVE_CORE_ECHO_H_
