#include "conclave/core/blocking_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "absl/synchronization/notification.h"

namespace conclave::core {
namespace {

TEST(BlockingPool, RunsEveryTaskAndTheDestructorDrainsTheQueue) {
  std::atomic<int> ran{0};
  {
    BlockingPool pool(BlockingPool::Options{.threads = 2, .max_queued = 100});
    EXPECT_EQ(pool.threads(), 2);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(pool.Submit([&] { ran.fetch_add(1); }).ok());
    }
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(BlockingPool, RefusesBeyondTheQueueBound) {
  absl::Notification started, release;
  BlockingPool pool(BlockingPool::Options{.threads = 1, .max_queued = 1});
  ASSERT_TRUE(pool.Submit([&] {
                    started.Notify();
                    release.WaitForNotification();
                  })
                  .ok());
  started.WaitForNotification();  // the only thread is busy: what follows queues
  ASSERT_TRUE(pool.Submit([] {}).ok());
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_EQ(pool.Submit([] {}).code(), absl::StatusCode::kResourceExhausted);
  release.Notify();
}

TEST(BlockingPool, ATaskThatThrowsDoesNotStopThePool) {
  std::atomic<int> ran{0};
  {
    BlockingPool pool(BlockingPool::Options{.threads = 1, .max_queued = 10});
    ASSERT_TRUE(pool.Submit([] { throw 42; }).ok());
    ASSERT_TRUE(pool.Submit([] { throw std::runtime_error("boom"); }).ok());
    ASSERT_TRUE(pool.Submit([&] { ran.fetch_add(1); }).ok());
  }
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace conclave::core
