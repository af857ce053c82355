#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

namespace actserve {
namespace {

std::atomic<size_t> shared_thread_count{0};
std::atomic<bool> shared_created{false};

// What the caller and its helpers share during one ParallelFor. Helpers hold
// it by shared_ptr: a helper may start after the caller has returned, and
// then finds no block left and touches nothing else.
struct ParallelForState {
  ParallelForState(int64_t count, absl::FunctionRef<void(int64_t)> fn)
      : count(count), fn(fn) {}

  // Claims and runs blocks until none is left.
  void RunBlocks() {
    int64_t finished_here = 0;
    for (int64_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      fn(i);
      ++finished_here;
    }
    if (finished_here > 0) {
      std::lock_guard<std::mutex> lock(mu);
      finished += finished_here;
      if (finished == count) done.notify_all();
    }
  }

  const int64_t count;
  const absl::FunctionRef<void(int64_t)> fn;
  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::condition_variable done;
  int64_t finished = 0;  // guarded by mu
};

}  // namespace

ThreadPool::ThreadPool(size_t workers) {
  workers_.reserve(workers);
  for (size_t i = 0; i < workers; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

ThreadPool& ThreadPool::Shared() {
  // Leaked on purpose: workers may still run when static destructors do.
  static ThreadPool* const pool = [] {
    shared_created = true;
    const size_t threads = shared_thread_count.load();
    return new ThreadPool(
        threads != 0 ? threads
                     : std::max(1u, std::thread::hardware_concurrency()));
  }();
  return *pool;
}

bool ThreadPool::SetSharedThreadCount(size_t threads) {
  if (shared_created.load()) return false;
  shared_thread_count = threads;
  return true;
}

size_t ThreadPool::QueueDepth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ThreadPool::Schedule(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
  }
  work_.notify_one();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void ThreadPool::ParallelFor(int64_t count,
                             absl::FunctionRef<void(int64_t)> fn) {
  if (count <= 0) return;
  if (count == 1 || workers_.empty()) {
    for (int64_t i = 0; i < count; ++i) fn(i);
    return;
  }
  auto state = std::make_shared<ParallelForState>(count, fn);
  const int64_t helpers =
      std::min<int64_t>(count - 1, static_cast<int64_t>(workers_.size()));
  for (int64_t h = 0; h < helpers; ++h) {
    Schedule([state] { state->RunBlocks(); });
  }
  state->RunBlocks();
  std::unique_lock<std::mutex> lock(state->mu);
  state->done.wait(lock, [&] { return state->finished == state->count; });
}

}  // namespace actserve
