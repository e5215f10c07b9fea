#include "core/model/model_config.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/io/file_util.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

using json = nlohmann::json;

class ConfigReader {
 public:
  ConfigReader(const json& root, absl::string_view source) : root_(root), source_(source) {}

  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", message));
  }

  // A positive integer field; required unless a default is given.
  absl::StatusOr<int64_t> PositiveInt(const char* key, std::optional<int64_t> fallback = {}) const {
    auto it = root_.find(key);
    if (it == root_.end() || it->is_null()) {
      if (fallback) return *fallback;
      return Error(absl::StrCat("missing required field \"", key, "\""));
    }
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > (int64_t{1} << 40)) {
      return Error(absl::StrCat("field \"", key, "\" must be a positive integer, got ", it->dump()));
    }
    return it->get<int64_t>();
  }

  absl::StatusOr<double> PositiveNumber(const json& obj, const char* key, double fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_number() || !(it->get<double>() > 0)) {
      return Error(absl::StrCat("field \"", key, "\" must be a positive number, got ", it->dump()));
    }
    return it->get<double>();
  }

  absl::StatusOr<bool> Bool(const char* key, bool fallback) const {
    auto it = root_.find(key);
    if (it == root_.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return Error(absl::StrCat("field \"", key, "\" must be a boolean"));
    return it->get<bool>();
  }

  absl::StatusOr<std::string> String(const char* key, std::string fallback) const {
    auto it = root_.find(key);
    if (it == root_.end() || it->is_null()) return fallback;
    if (!it->is_string()) return Error(absl::StrCat("field \"", key, "\" must be a string"));
    return it->get<std::string>();
  }

  // Token id fields hold an integer or a list of integers (eos in newer configs).
  absl::StatusOr<std::vector<int32_t>> TokenIds(const char* key) const {
    std::vector<int32_t> ids;
    auto it = root_.find(key);
    if (it == root_.end() || it->is_null()) return ids;
    auto add = [&](const json& v) -> absl::Status {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
        return Error(absl::StrCat("field \"", key, "\" must hold non-negative token ids"));
      }
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
      return absl::OkStatus();
    };
    if (it->is_array()) {
      for (const json& v : *it) {
        if (absl::Status s = add(v); !s.ok()) return s;
      }
    } else if (absl::Status s = add(*it); !s.ok()) {
      return s;
    }
    return ids;
  }

  const json& root() const { return root_; }

 private:
  const json& root_;
  absl::string_view source_;
};

absl::StatusOr<RopeConfig> ParseRope(const ConfigReader& r) {
  const json& root = r.root();
  RopeConfig rope;
  // Newer configs nest everything in rope_parameters; classic ones use rope_theta + rope_scaling.
  const json* scaling = nullptr;
  const json* params = nullptr;
  if (auto it = root.find("rope_parameters"); it != root.end() && !it->is_null()) {
    if (!it->is_object()) return r.Error("\"rope_parameters\" must be an object");
    params = &*it;
    scaling = &*it;
    LIGER_ASSIGN_OR_RETURN(rope.theta, r.PositiveNumber(*it, "rope_theta", 10000.0));
  } else {
    LIGER_ASSIGN_OR_RETURN(rope.theta, r.PositiveNumber(root, "rope_theta", 10000.0));
    if (auto s = root.find("rope_scaling"); s != root.end() && !s->is_null()) {
      if (!s->is_object()) return r.Error("\"rope_scaling\" must be an object or null");
      scaling = &*s;
    }
  }
  if (scaling == nullptr) return rope;
  std::string type = "default";
  for (const char* key : {"rope_type", "type"}) {
    if (auto t = scaling->find(key); t != scaling->end() && !t->is_null()) {
      if (!t->is_string()) return r.Error(absl::StrCat("rope \"", key, "\" must be a string"));
      type = t->get<std::string>();
      break;
    }
  }
  if (type != "default" && type != "linear" && type != "llama3") {
    return r.Error(absl::StrCat("unsupported rope type \"", type,
                                "\" (supported: default, linear, llama3)"));
  }
  if (params != nullptr) {
    if (auto p = params->find("partial_rotary_factor");
        p != params->end() && !p->is_null() && p->get<double>() != 1.0) {
      return r.Error("unsupported partial_rotary_factor (only 1.0)");
    }
  }
  rope.type = type;
  if (type == "default") return rope;
  LIGER_ASSIGN_OR_RETURN(rope.factor, r.PositiveNumber(*scaling, "factor", 0.0));
  if (rope.factor <= 0) return r.Error(absl::StrCat("rope type ", type, " needs \"factor\""));
  if (type == "llama3") {
    LIGER_ASSIGN_OR_RETURN(rope.low_freq_factor, r.PositiveNumber(*scaling, "low_freq_factor", 1.0));
    LIGER_ASSIGN_OR_RETURN(rope.high_freq_factor, r.PositiveNumber(*scaling, "high_freq_factor", 4.0));
    double original = 0;
    LIGER_ASSIGN_OR_RETURN(original, r.PositiveNumber(*scaling, "original_max_position_embeddings", 8192));
    rope.original_max_position_embeddings = static_cast<int64_t>(original);
    if (rope.high_freq_factor <= rope.low_freq_factor) {
      return r.Error("llama3 rope needs high_freq_factor > low_freq_factor");
    }
  }
  return rope;
}

// `model_type` is the config's liger_<variant>: it names the variant, which "variant" (optional)
// must then repeat. The variant is settled before the checks that depend on it.
absl::StatusOr<LigerConfig> ParseLigerObject(const json& obj, const std::string& model_type,
                                             int64_t num_layers, int64_t head_dim,
                                             absl::string_view source) {
  auto error = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": liger.", what));
  };
  if (!obj.is_object()) return error("must be an object");
  LigerConfig l;
  l.variant = model_type.substr(std::string("liger_").size());
  if (l.variant != "gla" && l.variant != "hgrn2" && l.variant != "gsa") {
    return absl::InvalidArgumentError(absl::StrCat(source, ": unsupported model_type \"", model_type,
                                                   "\" (supported: liger_gla, liger_hgrn2, liger_gsa)"));
  }
  for (const auto& [key, value] : obj.items()) {
    if (key == "variant") {
      if (!value.is_string()) return error("variant must be a string");
      if (value.get<std::string>() != l.variant) {
        return error(absl::StrCat("variant \"", value.get<std::string>(), "\" disagrees with model_type ",
                                  model_type));
      }
    } else if (key == "window" || key == "gsa_slots" || key == "chunk_size") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 65536) {
        return error(absl::StrCat(key, " must be an integer in [1, 65536]"));
      }
      (key == "window" ? l.window : key == "gsa_slots" ? l.gsa_slots : l.chunk_size) =
          value.get<int64_t>();
    } else if (key == "mix") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1) {
        return error("mix must be a number in [0, 1]");
      }
      l.mix = value.get<double>();
    } else if (key == "gate_normalizer") {
      if (!value.is_number() || !(value.get<double>() > 0)) return error("gate_normalizer must be > 0");
      l.gate_normalizer = value.get<double>();
    } else if (key == "softmax_layers") {
      if (!value.is_array()) return error("softmax_layers must be a list of layer indices");
      for (const json& i : value) {
        if (!i.is_number_integer() || i.get<int64_t>() < 0 || i.get<int64_t>() >= num_layers) {
          return error(absl::StrCat("softmax_layers holds ", i.dump(), ", not a layer in [0, ",
                                    num_layers, ")"));
        }
        l.softmax_layers.push_back(i.get<int64_t>());
      }
      std::sort(l.softmax_layers.begin(), l.softmax_layers.end());
      if (std::adjacent_find(l.softmax_layers.begin(), l.softmax_layers.end()) !=
          l.softmax_layers.end()) {
        return error("softmax_layers lists a layer twice");
      }
    } else if (key != "base_model_type") {
      return error(absl::StrCat(key, " is not a known field"));
    }
  }
  if (l.variant == "gsa" && l.gsa_slots > head_dim * 64) return error("gsa_slots is too large");
  return l;
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text, absl::string_view source) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  if (!root.is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  ConfigReader r(root, source);
  ModelConfig c;
  LIGER_ASSIGN_OR_RETURN(c.model_type, r.String("model_type", ""));
  // A converted checkpoint names itself liger_<variant> (the authors' format) and keeps the
  // architecture it came from in liger.base_model_type.
  const json* liger = nullptr;
  std::string liger_model_type;
  if (c.model_type.rfind("liger_", 0) == 0) {
    liger_model_type = c.model_type;
    auto it = root.find("liger");
    if (it == root.end() || !it->is_object() || !it->contains("base_model_type") ||
        !(*it)["base_model_type"].is_string()) {
      return r.Error(absl::StrCat("model_type ", c.model_type,
                                  " needs a \"liger\" object with base_model_type"));
    }
    liger = &*it;
    c.model_type = (*it)["base_model_type"].get<std::string>();
  }
  static const char* kSupported[] = {"llama", "mistral", "qwen2", "qwen3"};
  if (std::find(std::begin(kSupported), std::end(kSupported), c.model_type) == std::end(kSupported)) {
    return r.Error(absl::StrCat("unsupported model_type \"", c.model_type,
                                "\" (supported: llama, mistral, qwen2, qwen3)"));
  }
  if (auto a = root.find("architectures"); a != root.end() && a->is_array() && !a->empty() &&
                                           (*a)[0].is_string()) {
    c.architecture = (*a)[0].get<std::string>();
  }
  std::string act;
  LIGER_ASSIGN_OR_RETURN(act, r.String("hidden_act", "silu"));
  if (act != "silu") return r.Error(absl::StrCat("unsupported hidden_act \"", act, "\" (only silu)"));

  LIGER_ASSIGN_OR_RETURN(c.vocab_size, r.PositiveInt("vocab_size"));
  LIGER_ASSIGN_OR_RETURN(c.hidden_size, r.PositiveInt("hidden_size"));
  LIGER_ASSIGN_OR_RETURN(c.intermediate_size, r.PositiveInt("intermediate_size"));
  LIGER_ASSIGN_OR_RETURN(c.num_hidden_layers, r.PositiveInt("num_hidden_layers"));
  LIGER_ASSIGN_OR_RETURN(c.num_attention_heads, r.PositiveInt("num_attention_heads"));
  LIGER_ASSIGN_OR_RETURN(c.num_key_value_heads, r.PositiveInt("num_key_value_heads", c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return r.Error(absl::StrCat("num_attention_heads (", c.num_attention_heads,
                                ") is not a multiple of num_key_value_heads (",
                                c.num_key_value_heads, ")"));
  }
  if (c.hidden_size % c.num_attention_heads != 0 && root.find("head_dim") == root.end()) {
    return r.Error("hidden_size is not divisible by num_attention_heads and head_dim is not given");
  }
  LIGER_ASSIGN_OR_RETURN(c.head_dim, r.PositiveInt("head_dim", c.hidden_size / c.num_attention_heads));
  if (c.head_dim % 2 != 0) return r.Error("head_dim must be even for rotary embeddings");
  LIGER_ASSIGN_OR_RETURN(c.max_position_embeddings, r.PositiveInt("max_position_embeddings", 4096));
  LIGER_ASSIGN_OR_RETURN(c.rms_norm_eps, r.PositiveNumber(root, "rms_norm_eps", 1e-6));
  LIGER_ASSIGN_OR_RETURN(c.rope, ParseRope(r));
  LIGER_ASSIGN_OR_RETURN(c.tie_word_embeddings, r.Bool("tie_word_embeddings", false));
  bool attention_bias = false;
  LIGER_ASSIGN_OR_RETURN(attention_bias, r.Bool("attention_bias", false));
  LIGER_ASSIGN_OR_RETURN(c.mlp_bias, r.Bool("mlp_bias", false));
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2 always biases q/k/v and never o.
  } else {
    c.qkv_bias = attention_bias;
    c.o_bias = attention_bias;
  }
  c.qk_norm = c.model_type == "qwen3";

  if (c.model_type == "mistral") {
    if (auto w = root.find("sliding_window"); w != root.end() && !w->is_null()) {
      LIGER_ASSIGN_OR_RETURN(c.sliding_window, r.PositiveInt("sliding_window"));
    }
  } else if (c.model_type == "qwen2" || c.model_type == "qwen3") {
    bool use_sliding = false;
    LIGER_ASSIGN_OR_RETURN(use_sliding, r.Bool("use_sliding_window", false));
    if (use_sliding) return r.Error("unsupported use_sliding_window=true");
  }
  if (auto tp = root.find("pretraining_tp"); tp != root.end() && tp->is_number_integer() &&
                                             tp->get<int64_t>() != 1) {
    return r.Error("unsupported pretraining_tp != 1");
  }

  // Newer configs name the dtype "dtype"; classic ones "torch_dtype".
  std::string dtype;
  LIGER_ASSIGN_OR_RETURN(dtype, r.String("dtype", ""));
  if (dtype.empty()) {
    LIGER_ASSIGN_OR_RETURN(dtype, r.String("torch_dtype", "float32"));
  }
  if (dtype != "float32" && dtype != "bfloat16" && dtype != "float16") {
    return r.Error(absl::StrCat("unsupported dtype \"", dtype, "\""));
  }
  c.torch_dtype = dtype;

  std::vector<int32_t> bos;
  LIGER_ASSIGN_OR_RETURN(bos, r.TokenIds("bos_token_id"));
  if (!bos.empty()) c.bos_token_id = bos.front();
  LIGER_ASSIGN_OR_RETURN(c.eos_token_ids, r.TokenIds("eos_token_id"));
  for (int32_t id : c.eos_token_ids) {
    if (id >= c.vocab_size) return r.Error("eos_token_id is outside the vocabulary");
  }
  if (liger != nullptr) {
    LIGER_ASSIGN_OR_RETURN(c.liger, ParseLigerObject(*liger, liger_model_type, c.num_hidden_layers,
                                                     c.head_dim, source));
  }
  return c;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  LIGER_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, /*max_bytes=*/1 << 20));
  return ParseModelConfig(text, path);
}

}  // namespace liger
