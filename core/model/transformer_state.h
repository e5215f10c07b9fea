#pragma once

#include <memory>
#include <vector>

#include "core/model/layer_state.h"
#include "core/model/model_state.h"

namespace liger {

// A Transformer's per-sequence state: one LayerState per decoder layer and the token count.
class TransformerState : public ModelState {
 public:
  explicit TransformerState(std::vector<std::unique_ptr<LayerState>> layers)
      : layers_(std::move(layers)) {}

  int64_t tokens() const override { return tokens_; }
  int64_t bytes() const override {
    int64_t total = 0;
    for (const auto& layer : layers_) total += layer->bytes();
    return total;
  }
  std::unique_ptr<ModelState> Clone() const override {
    std::vector<std::unique_ptr<LayerState>> layers;
    layers.reserve(layers_.size());
    for (const auto& layer : layers_) layers.push_back(layer->Clone());
    auto copy = std::make_unique<TransformerState>(std::move(layers));
    copy->tokens_ = tokens_;
    return copy;
  }

  LayerState& layer(size_t i) { return *layers_[i]; }
  const LayerState& layer(size_t i) const { return *layers_[i]; }
  size_t num_layers() const { return layers_.size(); }
  void Advance(int64_t n) { tokens_ += n; }

 private:
  std::vector<std::unique_ptr<LayerState>> layers_;
  int64_t tokens_ = 0;
};

}  // namespace liger
