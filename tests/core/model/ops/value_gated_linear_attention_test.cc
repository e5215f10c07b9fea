#include "core/model/ops/value_gated_linear_attention.h"

#include "tests/core/model/ops/recurrence_test_suite.h"

namespace liger::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(ValueGated, RecurrenceTest,
                         ::testing::Values(RecurrenceVariant{"ValueGated", true,
                                                             &GatedLinearAttentionValueGate,
                                                             &GatedLinearAttentionValueGateStep}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace liger::testing
