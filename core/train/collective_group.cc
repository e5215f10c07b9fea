#include "core/train/collective_group.h"

#include "absl/strings/cord.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr absl::string_view kAnotherRanksFailure = "liger.dev/another-ranks-failure";

}  // namespace

absl::Status AnotherRanksFailure(absl::Status status) {
  status.SetPayload(kAnotherRanksFailure, absl::Cord());
  return status;
}

bool IsAnotherRanksFailure(const absl::Status& status) {
  return status.GetPayload(kAnotherRanksFailure).has_value();
}

absl::StatusOr<std::vector<double>> CollectiveGroup::SumAcross(const std::vector<double>& values) {
  torch::Tensor sums =
      torch::tensor(values, torch::dtype(torch::kFloat64)).to(device());
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<CollectiveWork> work, StartAllReduceSum(sums));
  LIGER_RETURN_IF_ERROR(work->Wait());
  sums = sums.cpu();
  return std::vector<double>(sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel());
}

absl::StatusOr<bool> CollectiveGroup::AnyAcross(bool value) {
  LIGER_ASSIGN_OR_RETURN(std::vector<double> sums, SumAcross({value ? 1.0 : 0.0}));
  return sums[0] > 0;
}

}  // namespace liger
