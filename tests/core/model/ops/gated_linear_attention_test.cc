#include "core/model/ops/gated_linear_attention.h"

#include "tests/core/model/ops/recurrence_test_suite.h"

namespace liger::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(KeyGated, RecurrenceTest,
                         ::testing::Values(RecurrenceVariant{"KeyGated", false, &GatedLinearAttention,
                                                             &GatedLinearAttentionStep}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace liger::testing
