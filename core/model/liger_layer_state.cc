#include "core/model/liger_layer_state.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace liger {

std::vector<std::pair<const char*, torch::Tensor>> LigerLayerState::Views() const {
  std::vector<std::pair<const char*, torch::Tensor>> views = {{"memory", memory()}};
  if (pool_->has_slot_memory()) views.emplace_back("slot_memory", slot_memory());
  views.emplace_back("ring_k", ring_k());
  views.emplace_back("ring_v", ring_v());
  return views;
}

std::unique_ptr<LayerState> LigerLayerState::Clone() const {
  auto copy = std::make_unique<LigerLayerState>(pool_, pool_->Acquire());
  absl::MutexLock lock(&pool_->mutex());
  const auto from = Views(), to = copy->Views();
  for (size_t i = 0; i < from.size(); ++i) to[i].second.copy_(from[i].second);
  copy->seen_ = seen_;
  return copy;
}

LayerStateContents LigerLayerState::Export() const {
  absl::MutexLock lock(&pool_->mutex());
  LayerStateContents contents;
  // Copies: the rows move when the pool grows and are reused after release.
  for (const auto& [name, view] : Views()) contents.tensors.emplace_back(name, view.clone());
  return contents;
}

absl::Status LigerLayerState::Import(LayerStateContents contents, int64_t tokens) {
  absl::MutexLock lock(&pool_->mutex());
  // This state's own row fixes the names, shapes, dtypes and device.
  const auto views = Views();
  if (contents.tensors.size() != views.size() || !contents.integers.empty()) {
    return absl::DataLossError(absl::StrCat("a liger layer of this model holds ", views.size(),
                                            " tensors and no integers, not ",
                                            contents.tensors.size(), " and ",
                                            contents.integers.size()));
  }
  for (size_t i = 0; i < views.size(); ++i) {
    const auto& [name, tensor] = contents.tensors[i];
    if (name != views[i].first) {
      return absl::DataLossError(
          absl::StrCat("liger tensor ", i, " is \"", name, "\", expected ", views[i].first));
    }
    if (tensor.sizes() != views[i].second.sizes()) {
      return absl::DataLossError(absl::StrCat(
          "liger ", name, " has shape [", absl::StrJoin(tensor.sizes(), ", "), "], expected [",
          absl::StrJoin(views[i].second.sizes(), ", "), "]"));
    }
  }
  // Every conversion before the first write, so a failure leaves the row as it was.
  std::vector<torch::Tensor> converted;
  for (size_t i = 0; i < views.size(); ++i) {
    converted.push_back(contents.tensors[i].second.to(views[i].second.options()));
  }
  for (size_t i = 0; i < views.size(); ++i) views[i].second.copy_(converted[i]);
  seen_ = tokens;
  return absl::OkStatus();
}

std::pair<torch::Tensor, torch::Tensor> LigerLayerState::Window() const {
  const int64_t window = pool_->window();
  const torch::Tensor k = ring_k(), v = ring_v();
  if (seen_ <= window) return {k.narrow(1, 0, seen_), v.narrow(1, 0, seen_)};
  // The oldest entry sits at slot seen % window.
  const int64_t shift = -(seen_ % window);
  return {torch::roll(k, shift, 1), torch::roll(v, shift, 1)};
}

void LigerLayerState::Append(const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t window = pool_->window();
  const int64_t t = k.size(1);
  const int64_t keep = std::min(t, window);
  const int64_t first = seen_ + t - keep;  // position of the first entry kept
  torch::Tensor slots = torch::remainder(
      torch::arange(first, first + keep, torch::TensorOptions().dtype(torch::kInt64).device(k.device())),
      window);
  torch::Tensor ring_k_row = ring_k(), ring_v_row = ring_v();
  ring_k_row.index_copy_(1, slots, k.narrow(1, t - keep, keep).to(ring_k_row.scalar_type()));
  ring_v_row.index_copy_(1, slots, v.narrow(1, t - keep, keep).to(ring_v_row.scalar_type()));
  seen_ += t;
}

}  // namespace liger
