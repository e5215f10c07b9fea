#include "core/train/epoch_order.h"

#include <cstdint>
#include <random>
#include <utility>

namespace liger {
namespace {

// A uniform draw from [0, bound] by rejection; std::uniform_int_distribution is
// implementation-defined, which would make the order differ between standard libraries.
uint64_t EpochOrderDraw(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t range = bound + 1;
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;  // a multiple of range
  uint64_t value;
  do {
    value = rng();
  } while (value >= limit);
  return value % range;
}

}  // namespace

std::vector<int64_t> EpochOrder(int64_t count, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(count > 0 ? count : 0));
  for (int64_t i = 0; i < count; ++i) order[i] = i;
  // std::seed_seq's algorithm is specified, so the stream is too.
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(epoch), static_cast<uint32_t>(epoch >> 32)};
  std::mt19937_64 rng(seq);
  for (int64_t i = count - 1; i > 0; --i) {
    std::swap(order[i], order[EpochOrderDraw(rng, static_cast<uint64_t>(i))]);
  }
  return order;
}

}  // namespace liger
