#pragma once

// Checkpoints and helpers shared by the LoRA tests: a float32 copy of the llama3-tiny fixture (so
// merged weights compare tightly against the float32 adapters), and Liger conversions of it.
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/io/checkpoint_weights.h"
#include "core/io/safetensors_writer.h"
#include "core/model/tensor_conversion.h"
#include "core/model/transformer.h"
#include "core/train/lora_adapters.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/test_paths.h"

namespace liger::testing {

// Writes `from`'s weights as float32 into the new directory `to`, with its config and tokenizer.
inline void WriteFloat32Copy(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(to);
  std::ifstream config_in(from + "/config.json");
  nlohmann::json config = nlohmann::json::parse(config_in);
  config["torch_dtype"] = "float32";
  std::ofstream(to + "/config.json") << config.dump(2);
  std::filesystem::copy_file(from + "/tokenizer.json", to + "/tokenizer.json");
  auto weights = CheckpointWeights::Open(from);
  ASSERT_TRUE(weights.ok()) << weights.status();
  std::vector<torch::Tensor> keep;
  std::vector<std::pair<std::string, TensorView>> views;
  const std::vector<std::string> names = (*weights)->names();
  keep.reserve(names.size());
  for (const std::string& name : names) {
    auto t = ToTensor(*(*weights)->Find(name));
    ASSERT_TRUE(t.ok()) << t.status();
    keep.push_back(t->to(torch::kFloat32).contiguous());
    auto view = ViewOf(keep.back());
    ASSERT_TRUE(view.ok()) << view.status();
    views.emplace_back(name, *view);
  }
  ASSERT_TRUE(WriteSafetensors(to + "/model.safetensors", views).ok());
}

// A converted checkpoint in the new directory `to`: `from`'s config with a "liger" object (as the
// converter writes it; conversion adds no tensors) and a link to its weights and tokenizer.
inline void WriteLigerCheckpoint(const std::string& from, const std::string& to,
                                 const std::string& variant, std::vector<int> softmax_layers = {}) {
  std::filesystem::create_directories(to);
  std::ifstream config_in(from + "/config.json");
  nlohmann::json config = nlohmann::json::parse(config_in);
  // 80-token test sequences span two full 32-token chunks, a partial one, and 16-token sub-chunks.
  config["liger"] = {{"base_model_type", config["model_type"]}, {"variant", variant},
                     {"softmax_layers", softmax_layers}, {"gsa_slots", 16}, {"chunk_size", 32}};
  config["model_type"] = "liger_" + variant;
  std::ofstream(to + "/config.json") << config.dump(2);
  for (const char* file : {"model.safetensors", "tokenizer.json"}) {
    std::filesystem::create_symlink(from + "/" + file, to + "/" + file);
  }
}

// The float32 teacher and its conversions, built once per test binary.
struct LoraTestModels {
  TempDir root;
  std::string teacher = root.File("teacher");
  std::string gla = root.File("gla");
  std::string hgrn2 = root.File("hgrn2");
  std::string gsa = root.File("gsa");
  std::string gla_hybrid = root.File("gla_hybrid");

  LoraTestModels() {
    WriteFloat32Copy(FixtureModel("llama3-tiny"), teacher);
    WriteLigerCheckpoint(teacher, gla, "gla");
    WriteLigerCheckpoint(teacher, hgrn2, "hgrn2");
    WriteLigerCheckpoint(teacher, gsa, "gsa");
    WriteLigerCheckpoint(teacher, gla_hybrid, "gla", {0, 5});
  }
};

inline const LoraTestModels& TestModels() {
  static const LoraTestModels models;
  return models;
}

// Fixed random token ids [batch, steps] within the fixture's vocabulary.
inline torch::Tensor LoraTestTokens(int64_t batch, int64_t steps, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(3, 8192, {batch, steps}, generator, torch::kInt64);
}

// Mean next-token cross-entropy of logits [B, T, V] for ids [B, T], in float64.
inline torch::Tensor LoraTestLoss(const torch::Tensor& logits, const torch::Tensor& ids) {
  const int64_t t = ids.size(1);
  torch::Tensor lp = torch::log_softmax(logits.narrow(1, 0, t - 1).to(torch::kFloat64), -1);
  torch::Tensor target = ids.narrow(1, 1, t - 1).to(lp.device()).unsqueeze(-1);
  return -lp.gather(-1, target).mean();
}

// Sets every factor (B included) to seeded normal values times `scale`, in place.
inline void RandomiseLora(const LoraAdapters& adapters, uint64_t seed, double scale) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (torch::Tensor p : adapters.parameters()) {
    p.copy_(torch::randn(p.sizes(), generator, torch::kFloat32) * scale);
  }
}

// Every base weight tensor of the model.
inline std::vector<torch::Tensor> BaseWeights(const Transformer& model) {
  const TransformerWeights& w = model.weights();
  std::vector<torch::Tensor> out = {w.embed_tokens, w.final_norm, w.lm_head};
  for (const LayerWeights& l : w.layers) {
    for (const torch::Tensor& t :
         {l.input_norm, l.post_attention_norm, l.q_proj, l.k_proj, l.v_proj, l.o_proj, l.q_bias,
          l.k_bias, l.v_bias, l.o_bias, l.q_norm, l.k_norm, l.gate_proj, l.up_proj, l.down_proj,
          l.gate_bias, l.up_bias, l.down_bias}) {
      if (t.defined()) out.push_back(t);
    }
  }
  return out;
}

}  // namespace liger::testing
