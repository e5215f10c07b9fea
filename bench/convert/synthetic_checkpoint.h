#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace liger {

// The shapes of a Llama checkpoint; the defaults are Llama-3.2-1B's (tied embeddings).
struct SyntheticLlamaShape {
  int64_t vocab_size = 128256;
  int64_t hidden_size = 2048;
  int64_t intermediate_size = 8192;
  int64_t num_layers = 16;
  int64_t num_heads = 32;
  int64_t num_kv_heads = 8;
  int64_t head_dim = 64;
};

// Writes config.json and model.safetensors with random bf16 weights of `shape` into the existing
// directory `dir`; returns the bytes of weights written.
absl::StatusOr<uint64_t> WriteSyntheticLlamaCheckpoint(const std::string& dir,
                                                       const SyntheticLlamaShape& shape);

}  // namespace liger
