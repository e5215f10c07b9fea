#pragma once

#include <memory>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/model/causal_lm.h"

namespace liger::testing {

// Remembers every token it was fed, so tests can check what a generation consumed.
class FakeState : public ModelState {
 public:
  int64_t tokens() const override { return static_cast<int64_t>(seen.size()); }
  int64_t bytes() const override { return 0; }
  std::unique_ptr<ModelState> Clone() const override { return std::make_unique<FakeState>(*this); }

  std::vector<int32_t> seen;
};

// A bigram model: the logits depend only on the last token. successor[t] >= 0 makes that token
// the clear favourite after t; otherwise the row is nearly flat, so sampling visits every token.
class FakeCausalLM : public CausalLM {
 public:
  explicit FakeCausalLM(std::vector<int32_t> successor, std::vector<int32_t> eos_token_ids = {})
      : successor_(std::move(successor)) {
    config_.vocab_size = static_cast<int64_t>(successor_.size());
    config_.eos_token_ids = std::move(eos_token_ids);
  }

  // Logits after `last`, as a float32 [V] tensor.
  torch::Tensor Row(int32_t last) const {
    const int64_t v = config_.vocab_size;
    std::vector<float> row(v);
    for (int64_t j = 0; j < v; ++j) row[j] = 0.1f * static_cast<float>((last * 7 + j * 3) % 5);
    if (successor_[last] >= 0) row[successor_[last]] = 5.0f;
    return torch::tensor(row, torch::kFloat32);
  }

  // DecodeStep fails with INTERNAL once this many calls have succeeded (-1: never).
  void FailDecodeAfter(int calls) { fail_decode_after_ = calls; }

  const ModelConfig& config() const override { return config_; }
  torch::Device device() const override { return torch::kCPU; }
  std::unique_ptr<ModelState> NewState() const override { return std::make_unique<FakeState>(); }

  absl::StatusOr<torch::Tensor> Forward(const torch::Tensor& input_ids) const override {
    std::vector<torch::Tensor> rows;
    for (int64_t b = 0; b < input_ids.size(0); ++b) {
      FakeState state;
      absl::StatusOr<torch::Tensor> logits = Prefill(input_ids[b], state, true);
      if (!logits.ok()) return logits.status();
      rows.push_back(*logits);
    }
    return torch::stack(rows);
  }

  absl::StatusOr<torch::Tensor> Prefill(const torch::Tensor& tokens, ModelState& state,
                                        bool all_logits) const override {
    if (tokens.dim() != 1 || tokens.size(0) == 0 || tokens.scalar_type() != torch::kInt64) {
      return absl::InvalidArgumentError("prefill needs a non-empty int64 [T] tensor");
    }
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < tokens.size(0); ++i) {
      absl::StatusOr<torch::Tensor> row = Feed(tokens[i].item<int64_t>(), state);
      if (!row.ok()) return row.status();
      rows.push_back(*row);
    }
    return all_logits ? torch::stack(rows) : rows.back().unsqueeze(0);
  }

  absl::StatusOr<torch::Tensor> DecodeStep(absl::Span<ModelState* const> states,
                                           const torch::Tensor& tokens) const override {
    if (fail_decode_after_ >= 0 && decode_calls_ >= fail_decode_after_) {
      return absl::InternalError("injected decode failure");
    }
    ++decode_calls_;
    if (tokens.dim() != 1 || tokens.size(0) != static_cast<int64_t>(states.size()) ||
        tokens.scalar_type() != torch::kInt64) {
      return absl::InvalidArgumentError("decode needs int64 [N] tokens for N states");
    }
    std::vector<torch::Tensor> rows;
    for (size_t i = 0; i < states.size(); ++i) {
      absl::StatusOr<torch::Tensor> row = Feed(tokens[i].item<int64_t>(), *states[i]);
      if (!row.ok()) return row.status();
      rows.push_back(*row);
    }
    return torch::stack(rows);
  }

 private:
  absl::StatusOr<torch::Tensor> Feed(int64_t token, ModelState& state) const {
    auto* fake = dynamic_cast<FakeState*>(&state);
    if (fake == nullptr) return absl::InvalidArgumentError("not a FakeState");
    if (token < 0 || token >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("token ", token, " outside the vocabulary"));
    }
    fake->seen.push_back(static_cast<int32_t>(token));
    return Row(static_cast<int32_t>(token));
  }

  ModelConfig config_;
  std::vector<int32_t> successor_;
  int fail_decode_after_ = -1;
  mutable int decode_calls_ = 0;
};

}  // namespace liger::testing
