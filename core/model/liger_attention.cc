#include "core/model/liger_attention.h"

#include "core/model/liger_layer_state.h"
#include "core/model/liger_state_pool.h"
#include "core/model/ops/gated_linear_attention.h"
#ifdef LIGER_WITH_CUDA
#include "core/model/ops/fused_liger_decode.h"
#endif
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

// Keys, values and gates belong to KV heads, so the recurrent state does too (shared by the query
// heads of a group).
std::shared_ptr<LigerStatePool> MakePool(const ModelConfig& config, torch::Device device,
                                         torch::ScalarType dtype) {
  const LigerConfig& liger = *config.liger;
  const int64_t kv = config.num_key_value_heads, d = config.head_dim;
  const bool gsa = liger.variant == "gsa";
  return std::make_shared<LigerStatePool>(
      gsa ? std::vector<int64_t>{kv, d, liger.gsa_slots} : std::vector<int64_t>{kv, d, d},
      gsa ? std::vector<int64_t>{kv, liger.gsa_slots, d} : std::vector<int64_t>{},
      std::vector<int64_t>{kv, liger.window, d}, device, dtype);
}

}  // namespace

LigerAttention::LigerAttention(const ModelConfig& config, torch::Device device,
                               torch::ScalarType dtype)
    : liger_(*config.liger),
      kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim),
      pool_(MakePool(config, device, dtype)),
      device_(device) {}

std::unique_ptr<LayerState> LigerAttention::NewState() const {
  return std::make_unique<LigerLayerState>(pool_, pool_->Acquire());
}

LigerLayerState& LigerAttention::OwnState(LayerState& state) const {
  auto& s = static_cast<LigerLayerState&>(state);
  TORCH_CHECK(&s.pool() == pool_.get(), "a Liger layer state of another model");
  return s;
}

const LigerLayerState& LigerAttention::OwnState(const LayerState& state) const {
  const auto& s = static_cast<const LigerLayerState&>(state);
  TORCH_CHECK(&s.pool() == pool_.get(), "a Liger layer state of another model");
  return s;
}

int64_t LigerAttention::RowOf(const LayerState& state) const { return OwnState(state).row(); }

int64_t LigerAttention::StoreVersion() const {
  pool_->mutex().AssertHeld();
  return pool_->version();
}

void LigerAttention::Advance(LayerState& state) const {
  LigerLayerState& s = OwnState(state);
  s.set_seen(s.seen() + 1);
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
  LigerLayerState& s = OwnState(state);
  absl::MutexLock lock(&pool_->mutex());
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
  s.memory().copy_(memory[0]);
  if (slot_memory.defined()) s.slot_memory().copy_(slot_memory[0]);
  return Mix(window_out, linear_out, in.q.scalar_type());
}

torch::Tensor LigerAttention::Decode(const MixerInputs& in,
                                     absl::Span<LayerState* const> states) const {
  std::vector<int64_t> rows, seen;
  for (LayerState* state : states) {
    const LigerLayerState& s = OwnState(*state);
    rows.push_back(s.row());
    seen.push_back(s.seen());
  }
  const torch::Tensor row_index = torch::tensor(rows, torch::kInt64).to(device_);
  const torch::Tensor seen_index = torch::tensor(seen, torch::kInt64).to(device_);
  torch::Tensor out;
  {
    absl::MutexLock lock(&pool_->mutex());
    out = DecodeRows(in, row_index, seen_index);
  }
  for (LayerState* state : states) Advance(*state);
  return out;
}

torch::Tensor LigerAttention::DecodeRows(const MixerInputs& in, const torch::Tensor& row_index,
                                         const torch::Tensor& seen_index) const {
  pool_->mutex().AssertHeld();
#ifdef LIGER_WITH_CUDA
  if (in.q.is_cuda() && liger_.variant != "gsa") {
    // cos and sin are [B, 1, D].
    const LigerDecodeBatch batch{Row(in.q),         Row(in.k),         Row(in.v), in.cos.select(1, 0),
                                 in.sin.select(1, 0), row_index, seen_index};
    const LigerStateRows store{pool_->memory(), pool_->ring_k(), pool_->ring_v()};
    if (FusedLigerDecodeApplies(batch, store)) {
      const bool gla = liger_.variant == "gla";
      const LigerMixing mixing{gla ? LigerFeatureMap::kGla : LigerFeatureMap::kHgrn2,
                               gla ? liger_.gate_normalizer : 1.0, liger_.mix};
      return ValueOrThrow(FusedLigerDecode(batch, store, mixing)).unsqueeze(2);
    }
  }
#endif
  // The batch's rows of the pool: one gather and one scatter per tensor, whatever the batch.
  const int64_t window = liger_.window;
  const auto on_device = torch::TensorOptions().dtype(torch::kInt64).device(device_);
  const torch::Tensor valid =
      torch::arange(window, on_device).unsqueeze(0) < seen_index.clamp_max(window).unsqueeze(1);
  torch::Tensor q = RotaryEmbedding::Apply(in.q, in.cos, in.sin);
  torch::Tensor k = RotaryEmbedding::Apply(in.k, in.cos, in.sin);
  torch::Tensor window_out = ValueOrThrow(WindowAttentionStep(
      Row(q), Row(k), Row(in.v), pool_->ring_k().index_select(0, row_index),
      pool_->ring_v().index_select(0, row_index), valid));
  Features f = MakeFeatures(in);
  torch::Tensor memory = pool_->memory().index_select(0, row_index);
  torch::Tensor slot_memory = pool_->has_slot_memory()
                                  ? pool_->slot_memory().index_select(0, row_index)
                                  : torch::Tensor();
  torch::Tensor linear_out = RecurStep(f, memory, slot_memory);
  pool_->memory().index_copy_(0, row_index, memory);
  if (slot_memory.defined()) pool_->slot_memory().index_copy_(0, row_index, slot_memory);
  // Each sequence's new key and value go to ring slot (seen % window) of its row.
  const torch::Tensor ring_slot = seen_index.remainder(window);
  using torch::indexing::Slice;
  pool_->ring_k().index_put_({row_index, Slice(), ring_slot}, Row(k).to(pool_->ring_k().scalar_type()));
  pool_->ring_v().index_put_({row_index, Slice(), ring_slot}, Row(in.v).to(pool_->ring_v().scalar_type()));
  return Mix(window_out, linear_out, in.q.scalar_type()).unsqueeze(2);
}

}  // namespace liger
