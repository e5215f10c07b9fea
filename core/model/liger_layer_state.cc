#include "core/model/liger_layer_state.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace liger {

LigerLayerState::LigerLayerState(torch::Tensor memory, torch::Tensor slot_memory,
                                 torch::Tensor ring_k, torch::Tensor ring_v)
    : memory_(std::move(memory)),
      slot_memory_(std::move(slot_memory)),
      ring_k_(std::move(ring_k)),
      ring_v_(std::move(ring_v)) {}

int64_t LigerLayerState::bytes() const {
  int64_t total = memory_.nbytes() + ring_k_.nbytes() + ring_v_.nbytes();
  if (slot_memory_.defined()) total += slot_memory_.nbytes();
  return total;
}

std::unique_ptr<LayerState> LigerLayerState::Clone() const {
  auto copy = std::make_unique<LigerLayerState>(
      memory_.clone(), slot_memory_.defined() ? slot_memory_.clone() : torch::Tensor(),
      ring_k_.clone(), ring_v_.clone());
  copy->seen_ = seen_;
  return copy;
}

LayerStateContents LigerLayerState::Export() const {
  LayerStateContents contents;
  contents.tensors.emplace_back("memory", memory_);
  if (slot_memory_.defined()) contents.tensors.emplace_back("slot_memory", slot_memory_);
  contents.tensors.emplace_back("ring_k", ring_k_);
  contents.tensors.emplace_back("ring_v", ring_v_);
  return contents;
}

absl::Status LigerLayerState::Import(LayerStateContents contents, int64_t tokens) {
  // This state's own tensors (zeros from NewState) fix the names, shapes, dtypes and device.
  std::vector<std::pair<const char*, torch::Tensor*>> slots = {{"memory", &memory_}};
  if (slot_memory_.defined()) slots.emplace_back("slot_memory", &slot_memory_);
  slots.emplace_back("ring_k", &ring_k_);
  slots.emplace_back("ring_v", &ring_v_);
  if (contents.tensors.size() != slots.size() || !contents.integers.empty()) {
    return absl::DataLossError(absl::StrCat("a liger layer of this model holds ", slots.size(),
                                            " tensors and no integers, not ",
                                            contents.tensors.size(), " and ",
                                            contents.integers.size()));
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& [name, tensor] = contents.tensors[i];
    if (name != slots[i].first) {
      return absl::DataLossError(
          absl::StrCat("liger tensor ", i, " is \"", name, "\", expected ", slots[i].first));
    }
    if (tensor.sizes() != slots[i].second->sizes()) {
      return absl::DataLossError(absl::StrCat(
          "liger ", name, " has shape [", absl::StrJoin(tensor.sizes(), ", "), "], expected [",
          absl::StrJoin(slots[i].second->sizes(), ", "), "]"));
    }
  }
  std::vector<torch::Tensor> imported;
  for (size_t i = 0; i < slots.size(); ++i) {
    // A copy even where device and dtype already match, so no caller's tensor becomes this state.
    imported.push_back(contents.tensors[i].second.to(slots[i].second->options(),
                                                     /*non_blocking=*/false, /*copy=*/true));
  }
  for (size_t i = 0; i < slots.size(); ++i) *slots[i].second = std::move(imported[i]);
  seen_ = tokens;
  return absl::OkStatus();
}

std::pair<torch::Tensor, torch::Tensor> LigerLayerState::Window() const {
  const int64_t window = ring_k_.size(1);
  if (seen_ <= window) return {ring_k_.narrow(1, 0, seen_), ring_v_.narrow(1, 0, seen_)};
  // The oldest entry sits at slot seen % window.
  const int64_t shift = -(seen_ % window);
  return {torch::roll(ring_k_, shift, 1), torch::roll(ring_v_, shift, 1)};
}

void LigerLayerState::Append(const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t window = ring_k_.size(1);
  const int64_t t = k.size(1);
  const int64_t keep = std::min(t, window);
  const int64_t first = seen_ + t - keep;  // position of the first entry kept
  torch::Tensor slots = torch::remainder(
      torch::arange(first, first + keep, torch::TensorOptions().dtype(torch::kInt64).device(k.device())),
      window);
  ring_k_.index_copy_(1, slots, k.narrow(1, t - keep, keep).to(ring_k_.scalar_type()));
  ring_v_.index_copy_(1, slots, v.narrow(1, t - keep, keep).to(ring_v_.scalar_type()));
  seen_ += t;
}

}  // namespace liger
