#include "core/model/liger_state_pool.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

namespace liger {
namespace {

LigerStatePool SmallPool(bool slot_memory) {
  return LigerStatePool({2, 4, 4}, slot_memory ? std::vector<int64_t>{2, 3, 4} : std::vector<int64_t>{},
                        {2, 5, 4}, torch::kCPU, torch::kBFloat16);
}

TEST(LigerStatePoolTest, RowBytesCoverEveryTensorOfARow) {
  EXPECT_EQ(SmallPool(false).row_bytes(), 2 * 4 * 4 * 4 + 2 * (2 * 5 * 4 * 2));
  EXPECT_EQ(SmallPool(true).row_bytes(), (2 * 4 * 4 + 2 * 3 * 4) * 4 + 2 * (2 * 5 * 4 * 2));
}

TEST(LigerStatePoolTest, GrowthKeepsEveryRowAndHandsOutZeroedRows) {
  LigerStatePool pool = SmallPool(true);
  const int64_t initial = pool.capacity();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 3 * initial; ++i) {
    rows.push_back(pool.Acquire());
    absl::MutexLock lock(&pool.mutex());
    for (const torch::Tensor& t : {pool.memory(), pool.slot_memory(), pool.ring_k(), pool.ring_v()}) {
      EXPECT_TRUE(t.select(0, rows.back()).eq(0).all().item<bool>()) << "row " << rows.back();
      t.select(0, rows.back()).fill_(static_cast<double>(i + 1));
    }
  }
  EXPECT_GE(pool.capacity(), 3 * initial);
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(std::unique(rows.begin(), rows.end()), rows.end()) << "a row was handed out twice";
  absl::MutexLock lock(&pool.mutex());
  for (const torch::Tensor& t : {pool.memory(), pool.slot_memory(), pool.ring_k(), pool.ring_v()}) {
    // Row r was filled with (its acquisition order + 1); rows come lowest first.
    for (int64_t i = 0; i < 3 * initial; ++i) {
      EXPECT_TRUE(t.select(0, i).eq(static_cast<double>(i + 1)).all().item<bool>()) << "row " << i;
    }
  }
}

TEST(LigerStatePoolTest, ReleasedRowsComeBackZeroed) {
  LigerStatePool pool = SmallPool(false);
  const int64_t row = pool.Acquire();
  {
    absl::MutexLock lock(&pool.mutex());
    pool.memory().select(0, row).fill_(7);
    pool.ring_v().select(0, row).fill_(7);
  }
  pool.Release(row);
  const int64_t again = pool.Acquire();
  EXPECT_EQ(again, row);
  absl::MutexLock lock(&pool.mutex());
  EXPECT_FALSE(pool.slot_memory().defined());
  EXPECT_TRUE(pool.memory().select(0, again).eq(0).all().item<bool>());
  EXPECT_TRUE(pool.ring_v().select(0, again).eq(0).all().item<bool>());
}

}  // namespace
}  // namespace liger
