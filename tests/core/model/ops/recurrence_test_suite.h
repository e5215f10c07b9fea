#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/model/ops/linear_attention_common.h"

namespace liger::testing {

// One gated linear recurrence (key- or value-gated) under test: the suite in
// recurrence_test_suite.cc runs the same checks on each, instantiated by that op's test file.
struct RecurrenceVariant {
  std::string name;
  bool gate_on_value;
  std::function<absl::StatusOr<GlaResult>(const torch::Tensor&, const torch::Tensor&,
                                          const torch::Tensor&, const torch::Tensor&,
                                          const torch::Tensor&, int64_t)>
      prefill;
  std::function<absl::StatusOr<torch::Tensor>(const torch::Tensor&, const torch::Tensor&,
                                              const torch::Tensor&, const torch::Tensor&,
                                              torch::Tensor&)>
      step;
};

// Names the variant in gtest's messages instead of dumping its bytes.
inline void PrintTo(const RecurrenceVariant& variant, std::ostream* os) { *os << variant.name; }

class RecurrenceTest : public ::testing::TestWithParam<RecurrenceVariant> {};

}  // namespace liger::testing
