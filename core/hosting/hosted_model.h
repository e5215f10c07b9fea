#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "core/model/model_config.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

class GenerationScheduler;
class Transformer;

// A model a server holds under a name: the network, its tokenizer and what it was loaded from.
// Immutable once published; requests keep a shared_ptr to it, so unloading never pulls a model
// from under a running request: the memory is freed when the last user lets go.
struct HostedModel {
  std::string name;
  // The tenant that loaded it, the only one that sees it; empty: the server's (loaded at start, or
  // without authentication), seen by every tenant.
  std::string tenant;
  std::string model_dir;
  std::string dtype;   // the compute dtype: "float32", "bfloat16" or "float16"
  std::string device;  // "cpu", "cuda", "cuda:0", ...
  absl::Time loaded_at;
  ModelConfig config;
  std::shared_ptr<const Transformer> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  // Batches the model's generations. Declared last so it is destroyed (and its worker joined)
  // before the network and tokenizer it uses.
  std::shared_ptr<GenerationScheduler> scheduler;
};

}  // namespace liger
