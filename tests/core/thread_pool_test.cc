#include "core/thread_pool.h"

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace actserve {
namespace {

TEST(ThreadPoolTest, ParallelForVisitsEveryIndexOnce) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> seen(10007);
  pool.ParallelFor(seen.size(), [&](int64_t i) { seen[i]++; });
  for (const auto& s : seen) ASSERT_EQ(s.load(), 1);
}

// Every worker busy inside a ParallelFor that itself runs on the pool: the
// callers must finish their own blocks instead of waiting for a free worker.
TEST(ThreadPoolTest, NestedParallelForFromEveryWorkerCompletes) {
  ThreadPool pool(2);
  constexpr int kTasks = 16;
  std::latch done(kTasks);
  std::atomic<int64_t> total{0};
  for (int t = 0; t < kTasks; ++t) {
    pool.Schedule([&] {
      pool.ParallelFor(100, [&](int64_t i) { total += i; });
      done.count_down();
    });
  }
  done.wait();
  EXPECT_EQ(total.load(), kTasks * 4950);
}

TEST(ThreadPoolTest, WithoutWorkersTheCallerDoesEverything) {
  ThreadPool pool(0);
  const std::thread::id caller = std::this_thread::get_id();
  int calls = 0;
  pool.ParallelFor(100, [&](int64_t) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    ++calls;
  });
  EXPECT_EQ(calls, 100);
}

TEST(ThreadPoolTest, ZeroAndOneBlocks) {
  ThreadPool pool(2);
  int calls = 0;
  pool.ParallelFor(0, [&](int64_t) { ++calls; });
  pool.ParallelFor(1, [&](int64_t) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPoolTest, SharedPoolSizeIsFixedOnceCreated) {
  ThreadPool& shared = ThreadPool::Shared();
  EXPECT_GE(shared.size(), 1u);
  EXPECT_FALSE(ThreadPool::SetSharedThreadCount(3));
}

}  // namespace
}  // namespace actserve
