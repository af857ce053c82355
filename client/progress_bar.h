#ifndef ACTSERVE_CLIENT_PROGRESS_BAR_H_
#define ACTSERVE_CLIENT_PROGRESS_BAR_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace actserve::client {

// Told about bytes as they move. A streaming call sends on one thread and
// receives on another, so implementations must be thread-safe.
class TransferProgress {
 public:
  virtual ~TransferProgress() = default;
  // Total bytes the transfer will move, both ways; may grow as output
  // headers reveal output sizes.
  virtual void AddExpected(int64_t bytes) = 0;
  virtual void AddTransferred(int64_t bytes) = 0;
};

// One line on a terminal, redrawn in place at most every 100 ms:
//   [#########-----------]  45%  180.0 MiB / 400.0 MiB  95.2 MiB/s  ETA 2s
class ProgressBar : public TransferProgress {
 public:
  // Draws on `out`, which should be a terminal: the line is redrawn with \r.
  explicit ProgressBar(std::FILE* out);
  // Ends the line, so what follows starts on a clean one.
  ~ProgressBar() override;

  void AddExpected(int64_t bytes) override;
  void AddTransferred(int64_t bytes) override;

  // The line for these numbers; public for the tests.
  static std::string Render(int64_t done, int64_t total,
                            absl::Duration elapsed);

 private:
  void MaybeDraw(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  std::FILE* out_;
  const absl::Time start_;
  absl::Mutex mutex_;
  int64_t done_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t total_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Time last_draw_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
};

// Human units: "512 B", "1.5 KiB", "12.0 MiB", "3.25 GiB".
std::string FormatBytes(double bytes);

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_PROGRESS_BAR_H_
