#include "client/progress_bar.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace actserve::client {
namespace {

constexpr int kBarWidth = 20;
// Redrawing on every chunk would cost more than the transfer on a fast link.
constexpr absl::Duration kRedrawInterval = absl::Milliseconds(100);

std::string FormatEta(double seconds) {
  const int64_t s = static_cast<int64_t>(std::ceil(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
}

}  // namespace

std::string FormatBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrFormat("%.0f B", bytes);
  // Two calls: StrFormat checks its format at compile time, and clang
  // rejects a format chosen at run time.
  if (bytes < 10) return absl::StrFormat("%.2f %s", bytes, kUnits[unit]);
  return absl::StrFormat("%.1f %s", bytes, kUnits[unit]);
}

ProgressBar::ProgressBar(std::FILE* out) : out_(out), start_(absl::Now()) {}

ProgressBar::~ProgressBar() {
  absl::MutexLock lock(&mutex_);
  MaybeDraw(/*force=*/true);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::AddExpected(int64_t bytes) {
  absl::MutexLock lock(&mutex_);
  total_ += bytes;
  MaybeDraw(/*force=*/false);
}

void ProgressBar::AddTransferred(int64_t bytes) {
  absl::MutexLock lock(&mutex_);
  done_ += bytes;
  MaybeDraw(/*force=*/false);
}

void ProgressBar::MaybeDraw(bool force) {
  const absl::Time now = absl::Now();
  if (!force && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  // \r returns to the line start; \033[K clears what a longer line left.
  std::fprintf(out_, "\r%s\033[K", Render(done_, total_, now - start_).c_str());
  std::fflush(out_);
}

std::string ProgressBar::Render(int64_t done, int64_t total,
                                absl::Duration elapsed) {
  const double fraction =
      total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string line = absl::StrCat("[", std::string(filled, '#'),
                                  std::string(kBarWidth - filled, '-'), "] ");
  absl::StrAppendFormat(&line, "%3d%%  %s / %s",
                        static_cast<int>(fraction * 100), FormatBytes(done),
                        FormatBytes(total));
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (seconds > 0 && done > 0) {
    const double rate = done / seconds;
    absl::StrAppend(&line, "  ", FormatBytes(rate), "/s");
    if (done < total) {
      absl::StrAppend(&line, "  ETA ", FormatEta((total - done) / rate));
    }
  }
  return line;
}

}  // namespace actserve::client
