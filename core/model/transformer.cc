#include "core/model/transformer.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/model/layer_checkpoint.h"
#ifdef LIGER_WITH_CUDA
#include "core/model/ops/fused_elementwise.h"
#include "core/model/ops/fused_small_batch_linear.h"
#endif
#include "core/model/rms_norm.h"
#include "core/model/softmax_attention.h"
#include "core/model/transformer_state.h"

namespace liger {
namespace {

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
#ifdef LIGER_WITH_CUDA
  if (SmallBatchLinearApplies(x, w, b)) return SmallBatchLinear(x, w, b);
#endif
  return b.defined() ? torch::linear(x, w, b) : torch::linear(x, w);
}

// Linear plus the adapter's delta for projection `p` of layer `layer`, if it adapts that one.
torch::Tensor Project(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                      const ProjectionAdapter* adapter, int64_t layer, Projection p) {
  torch::Tensor y = Linear(x, w, b);
  if (adapter == nullptr) return y;
  torch::Tensor delta = adapter->Delta(layer, p, x);
  return delta.defined() ? y + delta : y;
}

// residual + Project(...): in one kernel where the small-batch product applies (a decode step
// saves two elementwise launches per layer).
torch::Tensor AddProjection(const torch::Tensor& residual, const torch::Tensor& x,
                            const torch::Tensor& w, const torch::Tensor& b,
                            const ProjectionAdapter* adapter, int64_t layer, Projection p) {
#ifdef LIGER_WITH_CUDA
  if (adapter == nullptr && SmallBatchLinearApplies(x, w, b, residual)) {
    return SmallBatchLinear(x, w, b, residual);
  }
#endif
  return residual + Project(x, w, b, adapter, layer, p);
}

// [B, T, heads * D] -> [B, heads, T, D], with the optional per-head RMSNorm Qwen3 applies.
torch::Tensor SplitHeads(const torch::Tensor& x, int64_t heads, int64_t head_dim,
                         const torch::Tensor& norm, double eps) {
  torch::Tensor h = x.view({x.size(0), x.size(1), heads, head_dim});
  if (norm.defined()) h = RmsNorm(h, norm, eps);
  return h.transpose(1, 2);
}

torch::Tensor SiluMul(const torch::Tensor& gate, const torch::Tensor& up) {
#ifdef LIGER_WITH_CUDA
  if (FusedSiluMulApplies(gate, up)) return FusedSiluMul(gate, up);
#endif
  return torch::silu(gate) * up;
}

absl::Status ToStatus(const c10::Error& e) {
  return absl::InternalError(absl::StrCat("model computation failed: ", e.what_without_backtrace()));
}

}  // namespace

Transformer::Transformer(ModelConfig config, TransformerWeights weights,
                         std::vector<std::unique_ptr<SequenceMixer>> mixers, torch::Device device,
                         torch::ScalarType dtype)
    : config_(std::move(config)),
      weights_(std::move(weights)),
      mixers_(std::move(mixers)),
      rope_(config_, device),
      device_(device),
      dtype_(dtype) {
#ifdef LIGER_WITH_CUDA
  const char* graphs = std::getenv("LIGER_CUDA_GRAPHS");
  const bool all_rows = !mixers_.empty() &&
                        std::all_of(mixers_.begin(), mixers_.end(),
                                    [](const auto& m) { return m->row_decoder() != nullptr; });
  if (device_.is_cuda() && all_rows && !(graphs != nullptr && std::strcmp(graphs, "0") == 0)) {
    padding_state_ = NewState();
    graphs_ = std::make_unique<CudaGraphDecoder>(
        [this](const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& rows) {
          const RowBatch row_batch{rows, positions.view({-1})};
          return Logits(Run(ids, positions, {}, RunMode::kDecodeRows, &row_batch)).squeeze(1);
        },
        static_cast<int64_t>(mixers_.size()), device_);
  }
#endif
}

std::unique_ptr<Transformer> Transformer::WithSoftmaxAttention() const {
  ModelConfig config = config_;
  config.liger.reset();
  std::vector<std::unique_ptr<SequenceMixer>> mixers;
  mixers.reserve(mixers_.size());
  for (size_t i = 0; i < mixers_.size(); ++i) {
    mixers.push_back(
        std::make_unique<SoftmaxAttention>(config, config.sliding_window, device_, dtype_));
  }
  // TransformerWeights holds tensor handles, so its copy shares the storage.
  return std::make_unique<Transformer>(std::move(config), weights_, std::move(mixers), device_,
                                       dtype_);
}

std::unique_ptr<ModelState> Transformer::NewState() const {
  std::vector<std::unique_ptr<LayerState>> layers;
  layers.reserve(mixers_.size());
  for (const auto& mixer : mixers_) layers.push_back(mixer->NewState());
  return std::make_unique<TransformerState>(std::move(layers));
}

torch::Tensor Transformer::Run(const torch::Tensor& ids, const torch::Tensor& positions,
                               absl::Span<ModelState* const> states, RunMode mode,
                               const RowBatch* row_batch, const ProjectionAdapter* adapter,
                               bool checkpoint_layers) const {
  const ModelConfig& c = config_;
  torch::Tensor x = weights_.embed_tokens.index_select(0, ids.reshape({-1}))
                        .view({ids.size(0), ids.size(1), c.hidden_size});
  auto [cos, sin] = rope_.CosSin(positions);
  std::vector<LayerState*> layer_states(states.size());
  const bool checkpoint = checkpoint_layers && mode == RunMode::kForward && torch::GradMode::is_enabled();
  for (size_t i = 0; i < weights_.layers.size(); ++i) {
    for (size_t b = 0; b < states.size(); ++b) {
      layer_states[b] = &static_cast<TransformerState*>(states[b])->layer(i);
    }
    if (checkpoint) {
      x = CheckpointLayer(
          [this, i, cos = cos, sin = sin, adapter](const torch::Tensor& input) {
            return RunLayer(i, input, cos, sin, {}, RunMode::kForward, nullptr, adapter);
          },
          x, adapter ? adapter->LayerParameters(static_cast<int64_t>(i)) : std::vector<torch::Tensor>{});
    } else {
      x = RunLayer(i, x, cos, sin, layer_states, mode, row_batch, adapter);
    }
  }
  return RmsNorm(x, weights_.final_norm, c.rms_norm_eps);
}

torch::Tensor Transformer::RunLayer(size_t i, torch::Tensor x, const torch::Tensor& cos,
                                    const torch::Tensor& sin,
                                    absl::Span<LayerState* const> layer_states, RunMode mode,
                                    const RowBatch* row_batch,
                                    const ProjectionAdapter* adapter) const {
  const ModelConfig& c = config_;
  const int64_t batch = x.size(0), steps = x.size(1);
  const LayerWeights& w = weights_.layers[i];
  const auto layer = static_cast<int64_t>(i);
  torch::Tensor h = RmsNorm(x, w.input_norm, c.rms_norm_eps);
  // Without an adapter, one GEMM each for q/k/v and gate/up (views of its output feed the rest).
  const bool stacked = adapter == nullptr && w.qkv_proj.defined() && w.gate_up_proj.defined();
  torch::Tensor q, k, v;
  if (stacked) {
    const torch::Tensor qkv = Linear(h, w.qkv_proj, w.qkv_bias);
    const int64_t q_out = w.q_proj.size(0), kv_out = w.k_proj.size(0);
    q = qkv.narrow(-1, 0, q_out);
    k = qkv.narrow(-1, q_out, kv_out);
    v = qkv.narrow(-1, q_out + kv_out, kv_out);
  } else {
    q = Project(h, w.q_proj, w.q_bias, adapter, layer, Projection::kQ);
    k = Project(h, w.k_proj, w.k_bias, adapter, layer, Projection::kK);
    v = Project(h, w.v_proj, w.v_bias, adapter, layer, Projection::kV);
  }
  MixerInputs in;
  in.q = SplitHeads(q, c.num_attention_heads, c.head_dim, w.q_norm, c.rms_norm_eps);
  in.k = SplitHeads(k, c.num_key_value_heads, c.head_dim, w.k_norm, c.rms_norm_eps);
  in.v = SplitHeads(v, c.num_key_value_heads, c.head_dim, torch::Tensor(), c.rms_norm_eps);
  in.cos = cos;
  in.sin = sin;
  torch::Tensor o;
  if (mode == RunMode::kForward) {
    o = mixers_[i]->Forward(in);
  } else if (mode == RunMode::kPrefill) {
    o = mixers_[i]->Prefill(in, *layer_states[0]);
  } else if (mode == RunMode::kDecode) {
    o = mixers_[i]->Decode(in, layer_states);
  } else {
    o = mixers_[i]->row_decoder()->DecodeRows(in, row_batch->rows[layer], row_batch->positions);
  }
  o = o.transpose(1, 2).reshape({batch, steps, c.num_attention_heads * c.head_dim});
  x = AddProjection(x, o, w.o_proj, w.o_bias, adapter, layer, Projection::kO);
  h = RmsNorm(x, w.post_attention_norm, c.rms_norm_eps);
  torch::Tensor gate, up;
  if (stacked) {
    const torch::Tensor gate_up = Linear(h, w.gate_up_proj, w.gate_up_bias);
    const int64_t mlp = w.gate_proj.size(0);
    gate = gate_up.narrow(-1, 0, mlp);
    up = gate_up.narrow(-1, mlp, mlp);
  } else {
    gate = Project(h, w.gate_proj, w.gate_bias, adapter, layer, Projection::kGate);
    up = Project(h, w.up_proj, w.up_bias, adapter, layer, Projection::kUp);
  }
  return AddProjection(x, SiluMul(gate, up), w.down_proj, w.down_bias, adapter, layer,
                       Projection::kDown);
}

torch::Tensor Transformer::Logits(const torch::Tensor& hidden) const {
  return Linear(hidden, weights_.lm_head, torch::Tensor()).to(torch::kFloat32);
}

absl::Status Transformer::CheckTokens(const torch::Tensor& tokens, int64_t dims) const {
  if (!tokens.defined() || tokens.dim() != dims) {
    return absl::InvalidArgumentError(absl::StrCat("token ids must be a ", dims, "-d tensor"));
  }
  if (tokens.scalar_type() != torch::kInt64 && tokens.scalar_type() != torch::kInt32) {
    return absl::InvalidArgumentError("token ids must be int32 or int64");
  }
  if (tokens.numel() == 0) return absl::OkStatus();
  const int64_t lo = tokens.min().item<int64_t>();
  const int64_t hi = tokens.max().item<int64_t>();
  if (lo < 0 || hi >= config_.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("token id ", lo < 0 ? lo : hi,
                                                   " is outside the vocabulary of ",
                                                   config_.vocab_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> Transformer::Forward(const torch::Tensor& input_ids) const {
  if (absl::Status s = CheckTokens(input_ids, 2); !s.ok()) return s;
  try {
    torch::NoGradGuard no_grad;
    torch::Tensor ids = input_ids.to(device_, torch::kInt64);
    torch::Tensor positions = torch::arange(ids.size(1), ids.options()).unsqueeze(0);
    return Logits(Run(ids, positions, {}, RunMode::kForward));
  } catch (const c10::Error& e) {
    return ToStatus(e);
  }
}

absl::StatusOr<torch::Tensor> Transformer::TrainingForward(const torch::Tensor& input_ids,
                                                          const ProjectionAdapter* adapter,
                                                          bool checkpoint_layers) const {
  if (absl::Status s = CheckTokens(input_ids, 2); !s.ok()) return s;
  try {
    torch::Tensor ids = input_ids.to(device_, torch::kInt64);
    torch::Tensor positions = torch::arange(ids.size(1), ids.options()).unsqueeze(0);
    return Logits(Run(ids, positions, {}, RunMode::kForward, nullptr, adapter, checkpoint_layers));
  } catch (const c10::Error& e) {
    return ToStatus(e);
  }
}

absl::StatusOr<torch::Tensor> Transformer::Prefill(const torch::Tensor& tokens, ModelState& state,
                                                   bool all_logits) const {
  if (absl::Status s = CheckTokens(tokens, 1); !s.ok()) return s;
  if (tokens.numel() == 0) return absl::InvalidArgumentError("prefill needs at least one token");
  try {
    torch::NoGradGuard no_grad;
    torch::Tensor ids = tokens.to(device_, torch::kInt64).unsqueeze(0);
    const int64_t start = state.tokens();
    torch::Tensor positions = torch::arange(start, start + ids.size(1), ids.options()).unsqueeze(0);
    ModelState* states[] = {&state};
    torch::Tensor hidden = Run(ids, positions, states, RunMode::kPrefill);
    static_cast<TransformerState&>(state).Advance(ids.size(1));
    if (!all_logits) hidden = hidden.narrow(1, hidden.size(1) - 1, 1);
    return Logits(hidden)[0];
  } catch (const c10::Error& e) {
    return ToStatus(e);
  }
}

absl::StatusOr<torch::Tensor> Transformer::DecodeStep(absl::Span<ModelState* const> states,
                                                      const torch::Tensor& device_tokens) const {
  // Device ids come to the host once, for the range check and the step's inputs alike (each
  // check on the device would be a synchronisation of its own).
  torch::Tensor tokens;
  try {
    tokens = device_tokens.defined() ? device_tokens.cpu() : device_tokens;
  } catch (const c10::Error& e) {
    return ToStatus(e);
  }
  if (absl::Status s = CheckTokens(tokens, 1); !s.ok()) return s;
  if (tokens.numel() != static_cast<int64_t>(states.size()) || states.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("decode step got ", tokens.numel(),
                                                   " tokens for ", states.size(), " states"));
  }
  try {
    torch::NoGradGuard no_grad;
#ifdef LIGER_WITH_CUDA
    if (graphs_ != nullptr && static_cast<int64_t>(states.size()) <= CudaGraphDecoder::kMaxBatch) {
      absl::StatusOr<torch::Tensor> logits = GraphDecodeStep(states, tokens);
      if (!absl::IsUnimplemented(logits.status())) return logits;
    }
#endif
    torch::Tensor ids = tokens.to(device_, torch::kInt64).unsqueeze(1);
    std::vector<int64_t> starts;
    starts.reserve(states.size());
    for (ModelState* s : states) starts.push_back(s->tokens());
    torch::Tensor positions = torch::tensor(starts, ids.options()).unsqueeze(1);
    torch::Tensor hidden = Run(ids, positions, states, RunMode::kDecode);
    for (ModelState* s : states) static_cast<TransformerState*>(s)->Advance(1);
    return Logits(hidden).squeeze(1);
  } catch (const c10::Error& e) {
    return ToStatus(e);
  }
}

#ifdef LIGER_WITH_CUDA
absl::StatusOr<torch::Tensor> Transformer::GraphDecodeStep(absl::Span<ModelState* const> states,
                                                           const torch::Tensor& tokens) const {
  const auto n = static_cast<int64_t>(states.size());
  const auto layers = static_cast<int64_t>(mixers_.size());
  torch::Tensor inputs = torch::empty({2 + layers, n}, torch::kInt64);  // ids, positions, rows
  inputs[0].copy_(tokens.to(torch::kCPU, torch::kInt64));
  auto in = inputs.accessor<int64_t, 2>();
  for (int64_t b = 0; b < n; ++b) in[1][b] = states[b]->tokens();
  std::vector<int64_t> padding_rows(layers);
  for (int64_t l = 0; l < layers; ++l) {
    const RowDecoder& decoder = *mixers_[l]->row_decoder();
    padding_rows[l] = decoder.RowOf(static_cast<TransformerState&>(*padding_state_).layer(l));
    for (int64_t b = 0; b < n; ++b) {
      in[2 + l][b] = decoder.RowOf(static_cast<TransformerState*>(states[b])->layer(l));
    }
  }
  absl::StatusOr<torch::Tensor> logits;
  {
    // The rows must stay where the graph reads them, from the version check until the replay is
    // queued (later growth copies them on the same stream, after it).
    std::vector<std::unique_ptr<absl::MutexLock>> locks;
    int64_t version = 0;
    for (const auto& mixer : mixers_) {
      locks.push_back(std::make_unique<absl::MutexLock>(&mixer->row_decoder()->StoreMutex()));
      version += mixer->row_decoder()->StoreVersion();
    }
    logits = graphs_->Run(inputs, padding_rows, version);
  }
  if (!logits.ok()) return logits;
  for (ModelState* state : states) {
    auto& s = static_cast<TransformerState&>(*state);
    for (int64_t l = 0; l < layers; ++l) mixers_[l]->row_decoder()->Advance(s.layer(l));
    s.Advance(1);
  }
  return logits;
}
#endif

}  // namespace liger
