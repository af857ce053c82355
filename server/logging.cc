#include "server/logging.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace actserve {
namespace {

std::atomic<LogLevel> log_level{LogLevel::kInfo};

constexpr struct {
  LogLevel level;
  absl::string_view name;
  char letter;
} kLevels[] = {
    {LogLevel::kError, "error", 'E'},
    {LogLevel::kWarning, "warning", 'W'},
    {LogLevel::kInfo, "info", 'I'},
    {LogLevel::kDebug, "debug", 'D'},
};

// Appends `text` with its control characters C-escaped.
void AppendEscapingControls(absl::string_view text, std::string* out) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) {
      out->push_back(c);
    } else {
      absl::StrAppend(out, absl::CHexEscape(absl::string_view(&c, 1)));
    }
  }
}

}  // namespace

bool AbslParseFlag(absl::string_view text, LogLevel* level,
                   std::string* error) {
  for (const auto& entry : kLevels) {
    if (text == entry.name) {
      *level = entry.level;
      return true;
    }
  }
  *error = "expected one of error, warning, info, debug";
  return false;
}

std::string AbslUnparseFlag(LogLevel level) {
  return std::string(kLevels[static_cast<int>(level)].name);
}

void SetLogLevel(LogLevel level) { log_level.store(level); }

bool LogEnabled(LogLevel level) { return level <= log_level.load(); }

void Log(LogLevel level, absl::string_view message) {
  if (!LogEnabled(level)) return;
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                       absl::UTCTimeZone()),
      " ", absl::string_view(&kLevels[static_cast<int>(level)].letter, 1), " ");
  AppendEscapingControls(message, &line);
  line.push_back('\n');
  // A failed or short write to stderr has nowhere better to be reported.
  [[maybe_unused]] ssize_t written =
      write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace actserve
