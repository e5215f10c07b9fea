#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liger {

// Rotary position embedding settings; `type` is one of "default", "linear", "llama3".
struct RopeConfig {
  double theta = 10000.0;
  std::string type = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
};

// How a converted (Liger) checkpoint replaces softmax attention; present only in converted configs.
struct LigerConfig {
  std::string variant = "gla";  // gla | hgrn2 | gsa
  int64_t window = 64;          // the window branch sees the token itself plus `window` previous ones
  double mix = 0.5;             // output = mix * window softmax + (1 - mix) * gated recurrence
  std::vector<int64_t> softmax_layers;  // layers that keep full softmax attention (hybrid)
  double gate_normalizer = 16;  // log decay = logsigmoid(g) / normalizer (GLA, GSA; HGRN2 uses 1)
  int64_t gsa_slots = 64;       // GSA memory slots per head
  int64_t chunk_size = 64;      // chunk of the parallel prefill form
};

// The architecture of a Llama-family checkpoint, parsed from its Hugging Face config.json.
struct ModelConfig {
  std::string model_type;  // llama, mistral, qwen2, qwen3
  std::string architecture;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // qwen2 always; llama/qwen3 through attention_bias
  bool o_bias = false;    // llama/qwen3 attention_bias also biases o_proj
  bool mlp_bias = false;
  bool qk_norm = false;   // qwen3 per-head RMSNorm on q and k
  std::optional<int64_t> sliding_window;  // mistral's softmax window, when set
  std::string torch_dtype = "float32";    // dtype the weights were saved in
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;
  std::optional<LigerConfig> liger;  // set for converted checkpoints (model_type liger_*)
};

// Parses config.json text. Every unsupported architecture, activation or rope type is rejected with
// INVALID_ARGUMENT naming it; `source` names the file in messages.
absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text, absl::string_view source);

// Reads and parses <model_dir>/config.json.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& model_dir);

}  // namespace liger
