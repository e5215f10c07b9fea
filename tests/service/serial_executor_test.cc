#include "service/serial_executor.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

namespace liger::service {
namespace {

TEST(SerialExecutorTest, RunsTasksInOrderOnOneOtherThread) {
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  absl::Notification done;
  {
    SerialExecutor executor;
    for (int i = 0; i < 5; ++i) {
      executor.Schedule([&order, &threads, i] {
        order.push_back(i);
        threads.push_back(std::this_thread::get_id());
      });
    }
    executor.Schedule([&done] { done.Notify(); });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  ASSERT_EQ(threads.size(), 5u);
  for (const std::thread::id& id : threads) {
    EXPECT_EQ(id, threads[0]);
    EXPECT_NE(id, std::this_thread::get_id());
  }
}

TEST(SerialExecutorTest, DestructorRunsQueuedTasks) {
  int ran = 0;
  absl::Notification release;
  {
    SerialExecutor executor;
    // The first task holds the thread until the rest are queued behind it.
    executor.Schedule([&release] { release.WaitForNotification(); });
    for (int i = 0; i < 3; ++i) executor.Schedule([&ran] { ++ran; });
    release.Notify();
  }
  EXPECT_EQ(ran, 3);
}

}  // namespace
}  // namespace liger::service
