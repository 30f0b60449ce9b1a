// WorkerThread: start, wake, timeout and stop, with a real thread (worker_thread.h).
#include "conclave/core/worker_thread.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace conclave::core {
namespace {

TEST(WorkerThread, WakeEndsTheWaitAndStopEndsTheBody) {
  WorkerThread worker;
  std::atomic<int> passes{0};
  absl::Notification returned;
  ASSERT_TRUE(worker
                  .Start("test",
                         [&] {
                           while (true) {
                             ++passes;
                             if (!worker.Wait(absl::Hours(1))) break;
                           }
                           returned.Notify();
                         })
                  .ok());
  while (passes.load() < 1) absl::SleepFor(absl::Milliseconds(1));
  worker.Wake();
  // Not the hour: the wake-up ends the wait, and the body runs a second pass.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (passes.load() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(passes.load(), 2);
  EXPECT_FALSE(worker.stopping());
  worker.Stop();
  EXPECT_TRUE(returned.HasBeenNotified());
  EXPECT_TRUE(worker.stopping());
  worker.Stop();  // idempotent
}

TEST(WorkerThread, WaitTimesOutAndTheThreadRestartsAfterStop) {
  WorkerThread worker;
  std::atomic<int> timeouts{0};
  auto body = [&] {
    while (worker.Wait(absl::Milliseconds(5))) ++timeouts;
  };
  ASSERT_TRUE(worker.Start("test", body).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (timeouts.load() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_GE(timeouts.load(), 3);
  worker.Stop();
  const int stopped_at = timeouts.load();
  ASSERT_TRUE(worker.Start("test", body).ok());
  EXPECT_FALSE(worker.stopping());
  while (timeouts.load() == stopped_at && absl::Now() < deadline + absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_GT(timeouts.load(), stopped_at);
}

}  // namespace
}  // namespace conclave::core
