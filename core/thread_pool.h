#ifndef ACTSERVE_CORE_THREAD_POOL_H_
#define ACTSERVE_CORE_THREAD_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

namespace actserve {

// A fixed set of worker threads shared by every caller in the process, so
// concurrent requests never oversubscribe the cores.
class ThreadPool {
 public:
  // Exactly `workers` threads. A ParallelFor caller works too, so a pool of
  // N - 1 workers gives N threads to a caller outside the pool, and a task
  // running on the pool (as the server's calls do) gets at most N.
  explicit ThreadPool(size_t workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool. Its size is fixed by the first call after
  // SetSharedThreadCount; 0 (the default) means one per hardware thread.
  static ThreadPool& Shared();
  // Must be called before the first Shared(); returns false if too late.
  static bool SetSharedThreadCount(size_t threads);

  size_t size() const { return workers_.size(); }
  // Tasks waiting for a worker (for metrics).
  size_t QueueDepth() const;

  // Runs `task` on a worker; never blocks the caller.
  void Schedule(std::function<void()> task);

  // Calls fn(i) for i in [0, count), in parallel. The calling thread works
  // too, and only waits for blocks already started by workers, so it is safe
  // to call from a pool task (no deadlock when every worker is busy).
  void ParallelFor(int64_t count, absl::FunctionRef<void(int64_t)> fn);

 private:
  void WorkerLoop();

  // std::mutex rather than absl::Mutex: ThreadSanitizer sees through
  // pthread primitives, not through Debian's uninstrumented Abseil.
  mutable std::mutex mu_;
  std::condition_variable work_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace actserve

#endif  // ACTSERVE_CORE_THREAD_POOL_H_
