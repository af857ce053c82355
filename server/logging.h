#ifndef ACTSERVE_SERVER_LOGGING_H_
#define ACTSERVE_SERVER_LOGGING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace actserve {

// A minimal leveled logger to stderr. Debian's Abseil has no absl/log, and the
// server needs little more than one line per call.
enum class LogLevel { kError, kWarning, kInfo, kDebug };

// Flag support: "error", "warning", "info", "debug".
bool AbslParseFlag(absl::string_view text, LogLevel* level, std::string* error);
std::string AbslUnparseFlag(LogLevel level);

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Writes "<UTC time> <E|W|I|D> <message>\n" with one write(2), so lines from
// concurrent calls never interleave. Control characters in `message` are
// written escaped (\n, \x00), so text a client sent can never start a line
// of its own.
void Log(LogLevel level, absl::string_view message);

}  // namespace actserve

#endif  // ACTSERVE_SERVER_LOGGING_H_
