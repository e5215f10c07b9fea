#pragma once

#include <cstdint>
#include <vector>

namespace liger {

// The order in which epoch `epoch` (0-based) visits `count` sequences: a permutation of
// [0, count) that depends only on (count, seed, epoch), identical on every platform and run, so
// that a resumed run sees the data an uninterrupted one would.
std::vector<int64_t> EpochOrder(int64_t count, uint64_t seed, int64_t epoch);

}  // namespace liger
