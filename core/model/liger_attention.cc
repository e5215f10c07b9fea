#include "core/model/liger_attention.h"

#include "core/model/liger_layer_state.h"
#include "core/model/ops/gated_linear_attention.h"
#include "core/model/ops/value_gated_linear_attention.h"
#include "core/model/ops/window_attention.h"
#include "core/model/rotary_embedding.h"

namespace liger {
namespace {

// Mixers report failures as c10::Error, which the model turns into a Status at its boundary.
template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  TORCH_CHECK(value.ok(), std::string(value.status().message()));
  return *std::move(value);
}

// [B, T, 1, D] position-wise rows for the step ops: [B, H, 1, D] -> [B, H, D].
torch::Tensor Row(const torch::Tensor& x) { return x.select(2, 0); }

}  // namespace

LigerAttention::LigerAttention(const ModelConfig& config, torch::Device device,
                               torch::ScalarType dtype)
    : liger_(*config.liger),
      kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim),
      device_(device),
      dtype_(dtype) {}

std::unique_ptr<LayerState> LigerAttention::NewState() const {
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  auto act = torch::TensorOptions().dtype(dtype_).device(device_);
  torch::Tensor memory, slot_memory;
  // Keys, values and gates belong to KV heads, so the recurrent state does too (shared by the
  // query heads of a group).
  if (liger_.variant == "gsa") {
    memory = torch::zeros({kv_heads_, head_dim_, liger_.gsa_slots}, f32);
    slot_memory = torch::zeros({kv_heads_, liger_.gsa_slots, head_dim_}, f32);
  } else {
    memory = torch::zeros({kv_heads_, head_dim_, head_dim_}, f32);
  }
  return std::make_unique<LigerLayerState>(memory, slot_memory,
                                           torch::zeros({kv_heads_, liger_.window, head_dim_}, act),
                                           torch::zeros({kv_heads_, liger_.window, head_dim_}, act));
}

LigerAttention::Features LigerAttention::MakeFeatures(const MixerInputs& in) const {
  // One kernel each for the dtype and the [B, T, heads, D] -> [B, heads, T, D] layout change, so
  // that the features (and the fused recurrence's inputs) are already contiguous.
  auto float_contiguous = [](const torch::Tensor& x) {
    return x.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/false, torch::MemoryFormat::Contiguous);
  };
  torch::Tensor q = float_contiguous(in.q);
  torch::Tensor k = float_contiguous(in.k);  // [B, KV, T, D], the gate's source
  Features f;
  f.v = float_contiguous(in.v);
  if (liger_.variant == "gla") {
    f.q = torch::softmax(q, -1);
    f.k = torch::softmax(k, -1);
    f.log_gate = torch::log_sigmoid(k) / liger_.gate_normalizer;
  } else if (liger_.variant == "hgrn2") {
    f.q = torch::softmax(q, -1);
    f.k = torch::sigmoid(-k);  // 1 - sigmoid(g)
    f.log_gate = torch::log_sigmoid(k);
  } else {  // gsa: the gate pools the whole key projection (all KV heads) down to KV * slots.
    const int64_t b = k.size(0), t = k.size(2);
    torch::Tensor flat = k.permute({0, 2, 1, 3}).reshape({b * t, 1, kv_heads_ * head_dim_});
    torch::Tensor pooled = torch::adaptive_avg_pool1d(flat, {kv_heads_ * liger_.gsa_slots});
    torch::Tensor g = pooled.view({b, t, kv_heads_, liger_.gsa_slots}).permute({0, 2, 1, 3});
    f.log_gate = torch::log_sigmoid(g) / liger_.gate_normalizer;
    f.slot_input = -torch::expm1(f.log_gate);  // s = 1 - alpha
    f.q = q;
    f.k = k;
  }
  return f;
}

torch::Tensor LigerAttention::Recur(const Features& f, torch::Tensor& memory,
                                    torch::Tensor& slot_memory) const {
  if (liger_.variant != "gsa") {
    GlaResult r = ValueOrThrow(
        GatedLinearAttention(f.q, f.k, f.v, f.log_gate, memory, liger_.chunk_size));
    memory = r.final_state;
    return r.output;
  }
  // Keys write into slots (decay on the slot dim), the query reads a distribution over slots,
  // which then reads the slots' values.
  GlaResult scores = ValueOrThrow(GatedLinearAttentionValueGate(
      f.q, f.k, f.slot_input, f.log_gate, memory, liger_.chunk_size));
  torch::Tensor p = torch::softmax(scores.output, -1);
  GlaResult out = ValueOrThrow(
      GatedLinearAttention(p, f.slot_input, f.v, f.log_gate, slot_memory, liger_.chunk_size));
  memory = scores.final_state;
  slot_memory = out.final_state;
  return out.output;
}

torch::Tensor LigerAttention::RecurStep(const Features& f, torch::Tensor& memory,
                                        torch::Tensor& slot_memory) const {
  if (liger_.variant != "gsa") {
    return ValueOrThrow(
        GatedLinearAttentionStep(Row(f.q), Row(f.k), Row(f.v), Row(f.log_gate), memory));
  }
  torch::Tensor scores = ValueOrThrow(GatedLinearAttentionValueGateStep(
      Row(f.q), Row(f.k), Row(f.slot_input), Row(f.log_gate), memory));
  torch::Tensor p = torch::softmax(scores, -1);
  return ValueOrThrow(
      GatedLinearAttentionStep(p, Row(f.slot_input), Row(f.v), Row(f.log_gate), slot_memory));
}

torch::Tensor LigerAttention::Mix(const torch::Tensor& window_out, const torch::Tensor& linear_out,
                                  torch::ScalarType dtype) const {
  return (linear_out * (1 - liger_.mix)).add_(window_out, liger_.mix).to(dtype);
}

torch::Tensor LigerAttention::Forward(const MixerInputs& in) const {
  torch::Tensor q = RotaryEmbedding::Apply(in.q, in.cos, in.sin);
  torch::Tensor k = RotaryEmbedding::Apply(in.k, in.cos, in.sin);
  torch::Tensor window_out = ValueOrThrow(
      WindowAttention(q, k, in.v, torch::Tensor(), torch::Tensor(), liger_.window));
  Features f = MakeFeatures(in);
  torch::Tensor memory, slot_memory;  // undefined: start from zeros
  return Mix(window_out, Recur(f, memory, slot_memory), in.q.scalar_type());
}

torch::Tensor LigerAttention::Prefill(const MixerInputs& in, LayerState& state) const {
  auto& s = static_cast<LigerLayerState&>(state);
  torch::Tensor q = RotaryEmbedding::Apply(in.q, in.cos, in.sin);
  torch::Tensor k = RotaryEmbedding::Apply(in.k, in.cos, in.sin);
  auto [past_k, past_v] = s.Window();
  torch::Tensor window_out = ValueOrThrow(WindowAttention(
      q, k, in.v, past_k.unsqueeze(0), past_v.unsqueeze(0), liger_.window));
  s.Append(k[0], in.v[0]);
  Features f = MakeFeatures(in);
  torch::Tensor memory = s.memory().unsqueeze(0);
  torch::Tensor slot_memory = s.slot_memory().defined() ? s.slot_memory().unsqueeze(0) : torch::Tensor();
  torch::Tensor linear_out = Recur(f, memory, slot_memory);
  s.memory() = memory[0];
  if (slot_memory.defined()) s.slot_memory() = slot_memory[0];
  return Mix(window_out, linear_out, in.q.scalar_type());
}

torch::Tensor LigerAttention::Decode(const MixerInputs& in,
                                     absl::Span<LayerState* const> states) const {
  const int64_t batch = static_cast<int64_t>(states.size());
  std::vector<torch::Tensor> memories, slot_memories, ring_k, ring_v, valid;
  auto idx = torch::TensorOptions().dtype(torch::kInt64).device(device_);
  torch::Tensor slots = torch::arange(liger_.window, idx);
  for (LayerState* state : states) {
    auto& s = static_cast<LigerLayerState&>(*state);
    memories.push_back(s.memory());
    if (s.slot_memory().defined()) slot_memories.push_back(s.slot_memory());
    ring_k.push_back(s.ring_k());
    ring_v.push_back(s.ring_v());
    valid.push_back(slots < std::min(s.seen(), liger_.window));
  }
  torch::Tensor q = RotaryEmbedding::Apply(in.q, in.cos, in.sin);
  torch::Tensor k = RotaryEmbedding::Apply(in.k, in.cos, in.sin);
  torch::Tensor window_out = ValueOrThrow(WindowAttentionStep(
      Row(q), Row(k), Row(in.v), torch::stack(ring_k), torch::stack(ring_v), torch::stack(valid)));
  Features f = MakeFeatures(in);
  torch::Tensor memory = torch::stack(memories);
  torch::Tensor slot_memory = slot_memories.empty() ? torch::Tensor() : torch::stack(slot_memories);
  torch::Tensor linear_out = RecurStep(f, memory, slot_memory);
  for (int64_t b = 0; b < batch; ++b) {
    auto& s = static_cast<LigerLayerState&>(*states[b]);
    s.memory().copy_(memory[b]);
    if (slot_memory.defined()) s.slot_memory().copy_(slot_memory[b]);
    s.Append(k[b].narrow(1, 0, 1), in.v[b].narrow(1, 0, 1));
  }
  return Mix(window_out, linear_out, in.q.scalar_type()).unsqueeze(2);
}

}  // namespace liger
