#include "core/model/transformer_weights.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "core/model/tensor_conversion.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

class WeightReader {
 public:
  WeightReader(const CheckpointWeights& checkpoint, torch::Device device, torch::ScalarType dtype)
      : checkpoint_(checkpoint), device_(device), dtype_(dtype) {}

  absl::StatusOr<torch::Tensor> Read(const std::string& name, std::vector<int64_t> shape) {
    used_.insert(name);
    const TensorView* view = checkpoint_.Find(name);
    if (view == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", checkpoint_.dir(), " lacks tensor ", name));
    }
    if (view->dtype != DType::kFloat32 && view->dtype != DType::kBFloat16 &&
        view->dtype != DType::kFloat16) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has dtype ",
                                                     std::string(DTypeName(view->dtype)),
                                                     ", expected F32, BF16 or F16"));
    }
    if (view->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", name, " has shape [", absl::StrJoin(view->shape, ","),
          "] but config.json implies [", absl::StrJoin(shape, ","), "]"));
    }
    LIGER_ASSIGN_OR_RETURN(torch::Tensor t, ToTensor(*view, device_));
    return t.to(dtype_);
  }

  absl::StatusOr<torch::Tensor> ReadIf(bool present, const std::string& name,
                                       std::vector<int64_t> shape) {
    if (!present) return torch::Tensor();
    return Read(name, std::move(shape));
  }

  // Checkpoints sometimes carry derived buffers that are recomputed here and safe to ignore.
  absl::Status CheckNoUnexpected(bool tied) const {
    std::vector<std::string> unexpected;
    for (const std::string& name : checkpoint_.names()) {
      if (used_.count(name) || absl::EndsWith(name, "rotary_emb.inv_freq")) continue;
      if (tied && name == "lm_head.weight") continue;
      unexpected.push_back(name);
    }
    if (unexpected.empty()) return absl::OkStatus();
    if (unexpected.size() > 5) unexpected.resize(5);
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", checkpoint_.dir(), " has tensors this architecture does not use: ",
        absl::StrJoin(unexpected, ", ")));
  }

 private:
  const CheckpointWeights& checkpoint_;
  torch::Device device_;
  torch::ScalarType dtype_;
  std::set<std::string> used_;
};

// Stacks `parts` (each defined or all undefined) by rows into `fused` and makes them views of it.
void Stack(std::initializer_list<torch::Tensor*> parts, torch::Tensor& fused) {
  std::vector<torch::Tensor> tensors;
  for (torch::Tensor* p : parts) {
    if (!p->defined()) return;
    tensors.push_back(*p);
  }
  fused = torch::cat(tensors, 0);
  int64_t row = 0;
  for (torch::Tensor* p : parts) {
    const int64_t rows = p->size(0);
    *p = fused.narrow(0, row, rows);
    row += rows;
  }
}

}  // namespace

absl::StatusOr<TransformerWeights> TransformerWeights::Load(const CheckpointWeights& checkpoint,
                                                            const ModelConfig& c,
                                                            torch::Device device,
                                                            torch::ScalarType dtype) {
  WeightReader r(checkpoint, device, dtype);
  const int64_t hidden = c.hidden_size;
  const int64_t q_out = c.num_attention_heads * c.head_dim;
  const int64_t kv_out = c.num_key_value_heads * c.head_dim;
  const int64_t mlp = c.intermediate_size;
  TransformerWeights w;
  LIGER_ASSIGN_OR_RETURN(w.embed_tokens, r.Read("model.embed_tokens.weight", {c.vocab_size, hidden}));
  LIGER_ASSIGN_OR_RETURN(w.final_norm, r.Read("model.norm.weight", {hidden}));
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed_tokens;
  } else {
    LIGER_ASSIGN_OR_RETURN(w.lm_head, r.Read("lm_head.weight", {c.vocab_size, hidden}));
  }
  w.layers.resize(c.num_hidden_layers);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerWeights& l = w.layers[i];
    LIGER_ASSIGN_OR_RETURN(l.input_norm, r.Read(p + "input_layernorm.weight", {hidden}));
    LIGER_ASSIGN_OR_RETURN(l.post_attention_norm,
                           r.Read(p + "post_attention_layernorm.weight", {hidden}));
    LIGER_ASSIGN_OR_RETURN(l.q_proj, r.Read(p + "self_attn.q_proj.weight", {q_out, hidden}));
    LIGER_ASSIGN_OR_RETURN(l.k_proj, r.Read(p + "self_attn.k_proj.weight", {kv_out, hidden}));
    LIGER_ASSIGN_OR_RETURN(l.v_proj, r.Read(p + "self_attn.v_proj.weight", {kv_out, hidden}));
    LIGER_ASSIGN_OR_RETURN(l.o_proj, r.Read(p + "self_attn.o_proj.weight", {hidden, q_out}));
    LIGER_ASSIGN_OR_RETURN(l.q_bias, r.ReadIf(c.qkv_bias, p + "self_attn.q_proj.bias", {q_out}));
    LIGER_ASSIGN_OR_RETURN(l.k_bias, r.ReadIf(c.qkv_bias, p + "self_attn.k_proj.bias", {kv_out}));
    LIGER_ASSIGN_OR_RETURN(l.v_bias, r.ReadIf(c.qkv_bias, p + "self_attn.v_proj.bias", {kv_out}));
    LIGER_ASSIGN_OR_RETURN(l.o_bias, r.ReadIf(c.o_bias, p + "self_attn.o_proj.bias", {hidden}));
    LIGER_ASSIGN_OR_RETURN(l.q_norm, r.ReadIf(c.qk_norm, p + "self_attn.q_norm.weight", {c.head_dim}));
    LIGER_ASSIGN_OR_RETURN(l.k_norm, r.ReadIf(c.qk_norm, p + "self_attn.k_norm.weight", {c.head_dim}));
    LIGER_ASSIGN_OR_RETURN(l.gate_proj, r.Read(p + "mlp.gate_proj.weight", {mlp, hidden}));
    LIGER_ASSIGN_OR_RETURN(l.up_proj, r.Read(p + "mlp.up_proj.weight", {mlp, hidden}));
    LIGER_ASSIGN_OR_RETURN(l.down_proj, r.Read(p + "mlp.down_proj.weight", {hidden, mlp}));
    LIGER_ASSIGN_OR_RETURN(l.gate_bias, r.ReadIf(c.mlp_bias, p + "mlp.gate_proj.bias", {mlp}));
    LIGER_ASSIGN_OR_RETURN(l.up_bias, r.ReadIf(c.mlp_bias, p + "mlp.up_proj.bias", {mlp}));
    LIGER_ASSIGN_OR_RETURN(l.down_bias, r.ReadIf(c.mlp_bias, p + "mlp.down_proj.bias", {hidden}));
    Stack({&l.q_proj, &l.k_proj, &l.v_proj}, l.qkv_proj);
    Stack({&l.q_bias, &l.k_bias, &l.v_bias}, l.qkv_bias);
    Stack({&l.gate_proj, &l.up_proj}, l.gate_up_proj);
    Stack({&l.gate_bias, &l.up_bias}, l.gate_up_bias);
  }
  LIGER_RETURN_IF_ERROR(r.CheckNoUnexpected(c.tie_word_embeddings));
  return w;
}

}  // namespace liger
