#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "absl/strings/string_view.h"

namespace liger {

// The linear projections of a decoder layer that an adapter may modify.
enum class Projection { kQ, kK, kV, kO, kGate, kUp, kDown };

inline constexpr std::array<Projection, 7> kAllProjections = {
    Projection::kQ,    Projection::kK,  Projection::kV,   Projection::kO,
    Projection::kGate, Projection::kUp, Projection::kDown};

// The projection's name in checkpoints and PEFT configs ("q_proj", ..., "down_proj").
inline absl::string_view ProjectionName(Projection p) {
  constexpr absl::string_view kNames[] = {"q_proj",    "k_proj",  "v_proj", "o_proj",
                                          "gate_proj", "up_proj", "down_proj"};
  return kNames[static_cast<int>(p)];
}

// The submodule of a layer that holds the projection: "self_attn" or "mlp".
inline absl::string_view ProjectionModule(Projection p) {
  return static_cast<int>(p) <= static_cast<int>(Projection::kO) ? "self_attn" : "mlp";
}

inline std::optional<Projection> ProjectionFromName(absl::string_view name) {
  for (Projection p : kAllProjections) {
    if (ProjectionName(p) == name) return p;
  }
  return std::nullopt;
}

// A hook the Transformer consults for each linear projection while training (e.g. LoRA): the
// projection's output becomes W x + b + Delta(...).
class ProjectionAdapter {
 public:
  virtual ~ProjectionAdapter() = default;

  // The additive delta [..., out] in x's dtype for projection `p` of layer `layer` on its input
  // x [..., in], or an undefined tensor when that projection is not adapted.
  virtual torch::Tensor Delta(int64_t layer, Projection p, const torch::Tensor& x) const = 0;

  // The tensors requiring grad that Delta reads for `layer`, which activation checkpointing must
  // name as the layer's inputs.
  virtual std::vector<torch::Tensor> LayerParameters(int64_t layer) const = 0;
};

}  // namespace liger
