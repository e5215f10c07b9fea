// config.json text as a checkpoint directory would hold it.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "core/model/model_config.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<liger::ModelConfig> config = liger::ParseModelConfig(text, "fuzz/config.json");
  if (!config.ok()) return 0;
  // The model builders divide and index by these without checking again.
  LIGER_FUZZ_CHECK(config->vocab_size > 0 && config->hidden_size > 0);
  LIGER_FUZZ_CHECK(config->intermediate_size > 0 && config->num_hidden_layers > 0);
  LIGER_FUZZ_CHECK(config->num_attention_heads > 0 && config->num_key_value_heads > 0);
  LIGER_FUZZ_CHECK(config->num_attention_heads % config->num_key_value_heads == 0);
  LIGER_FUZZ_CHECK(config->head_dim > 0 && config->head_dim % 2 == 0);
  for (const int32_t id : config->eos_token_ids) {
    LIGER_FUZZ_CHECK(id >= 0 && id < config->vocab_size);
  }
  if (config->liger.has_value()) {
    for (const int64_t layer : config->liger->softmax_layers) {
      LIGER_FUZZ_CHECK(layer >= 0 && layer < config->num_hidden_layers);
    }
  }
  return 0;
}
