#include "bench/convert/synthetic_checkpoint.h"

#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/safetensors_writer.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

// Random bf16 values of magnitude 2^-7 .. 2^-6, like trained weights in range and never NaN.
void FillRandomBf16(std::vector<uint16_t>& values, uint64_t& state) {
  for (uint16_t& v : values) {
    state ^= state << 13;  // xorshift64: the generator only needs to be fast
    state ^= state >> 7;
    state ^= state << 17;
    v = static_cast<uint16_t>((state & 0x807F) | 0x3C00);
  }
}

}  // namespace

absl::StatusOr<uint64_t> WriteSyntheticLlamaCheckpoint(const std::string& dir,
                                                       const SyntheticLlamaShape& s) {
  const nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                                 {"model_type", "llama"},
                                 {"vocab_size", s.vocab_size},
                                 {"hidden_size", s.hidden_size},
                                 {"intermediate_size", s.intermediate_size},
                                 {"num_hidden_layers", s.num_layers},
                                 {"num_attention_heads", s.num_heads},
                                 {"num_key_value_heads", s.num_kv_heads},
                                 {"head_dim", s.head_dim},
                                 {"hidden_act", "silu"},
                                 {"rms_norm_eps", 1e-05},
                                 {"rope_theta", 500000.0},
                                 {"tie_word_embeddings", true},
                                 {"torch_dtype", "bfloat16"}};
  LIGER_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", config.dump(2)));

  std::deque<std::vector<uint16_t>> buffers;  // stable addresses for the views
  std::vector<std::pair<std::string, TensorView>> tensors;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint64_t bytes = 0;
  const auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint16_t>& data = buffers.emplace_back(static_cast<size_t>(n));
    FillRandomBf16(data, state);
    bytes += data.size() * sizeof(uint16_t);
    tensors.emplace_back(name, TensorView{DType::kBFloat16, std::move(shape), data.data(),
                                          data.size() * sizeof(uint16_t)});
  };
  const int64_t q = s.num_heads * s.head_dim;
  const int64_t kv = s.num_kv_heads * s.head_dim;
  add("model.embed_tokens.weight", {s.vocab_size, s.hidden_size});
  for (int64_t i = 0; i < s.num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    add(p + "input_layernorm.weight", {s.hidden_size});
    add(p + "self_attn.q_proj.weight", {q, s.hidden_size});
    add(p + "self_attn.k_proj.weight", {kv, s.hidden_size});
    add(p + "self_attn.v_proj.weight", {kv, s.hidden_size});
    add(p + "self_attn.o_proj.weight", {s.hidden_size, q});
    add(p + "post_attention_layernorm.weight", {s.hidden_size});
    add(p + "mlp.gate_proj.weight", {s.intermediate_size, s.hidden_size});
    add(p + "mlp.up_proj.weight", {s.intermediate_size, s.hidden_size});
    add(p + "mlp.down_proj.weight", {s.hidden_size, s.intermediate_size});
  }
  add("model.norm.weight", {s.hidden_size});
  LIGER_RETURN_IF_ERROR(WriteSafetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}}));
  return bytes;
}

}  // namespace liger
