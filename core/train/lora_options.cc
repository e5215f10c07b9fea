#include "core/train/lora_options.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/io/strict_json.h"
#include "core/model/projection_adapter.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

using Json = nlohmann::json;

absl::Status LoraConfigDataLoss(const std::string& source, const std::string& what) {
  return absl::DataLossError(absl::StrCat(source, ": ", what));
}

absl::Status LoraConfigUnsupported(const std::string& source, const std::string& what) {
  return absl::FailedPreconditionError(
      absl::StrCat(source, ": unsupported adapter (", what, "); only plain LoRA on the q/k/v/o "
                   "and MLP projections can be applied"));
}

// PEFT writes null, false, empty containers or the default for options that are not in use.
bool LoraFieldUnset(const Json& config, const char* key, const Json& default_value) {
  auto it = config.find(key);
  return it == config.end() || it->is_null() || *it == default_value ||
         ((it->is_array() || it->is_object()) && it->empty());
}

}  // namespace

absl::Status ValidateLoraOptions(const LoraOptions& options) {
  if (options.rank < 1) {
    return absl::InvalidArgumentError(absl::StrCat("lora rank must be >= 1, got ", options.rank));
  }
  if (!(options.alpha > 0) || !std::isfinite(options.alpha)) {
    return absl::InvalidArgumentError(absl::StrCat("lora alpha must be > 0, got ", options.alpha));
  }
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lora dropout must be in [0, 1), got ", options.dropout));
  }
  if (options.target_modules.empty()) {
    return absl::InvalidArgumentError("lora target_modules must name at least one projection");
  }
  std::set<std::string> seen;
  for (const std::string& name : options.target_modules) {
    if (!ProjectionFromName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lora target_modules: unknown projection \"", name,
          "\" (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj)"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("lora target_modules: \"", name, "\" is listed twice"));
    }
  }
  return absl::OkStatus();
}

std::string LoraConfigJson(const LoraOptions& options, const std::string& base_model) {
  Json config = Json::object();
  config["peft_type"] = "LORA";
  config["task_type"] = "CAUSAL_LM";
  config["r"] = options.rank;
  // PEFT writes an integral alpha as an integer; keep that so the file reads like theirs.
  if (options.alpha == std::floor(options.alpha) && std::abs(options.alpha) < 1e15) {
    config["lora_alpha"] = static_cast<int64_t>(options.alpha);
  } else {
    config["lora_alpha"] = options.alpha;
  }
  config["lora_dropout"] = options.dropout;
  config["target_modules"] = options.target_modules;
  config["bias"] = "none";
  config["fan_in_fan_out"] = false;
  config["inference_mode"] = true;
  config["init_lora_weights"] = true;
  config["use_rslora"] = false;
  config["use_dora"] = false;
  config["modules_to_save"] = nullptr;
  config["layers_to_transform"] = nullptr;
  config["base_model_name_or_path"] = base_model.empty() ? Json(nullptr) : Json(base_model);
  config["revision"] = nullptr;
  return config.dump(2) + "\n";
}

absl::StatusOr<LoraOptions> ParseLoraConfigJson(const std::string& text, const std::string& source) {
  LIGER_ASSIGN_OR_RETURN(Json config, ParseStrictJson(text, source));
  if (!config.is_object()) return LoraConfigDataLoss(source, "expected a JSON object");
  auto peft_type = config.find("peft_type");
  if (peft_type == config.end() || !peft_type->is_string()) {
    return LoraConfigDataLoss(source, "missing string \"peft_type\"");
  }
  if (*peft_type != "LORA") {
    return LoraConfigUnsupported(source, absl::StrCat("peft_type ", peft_type->get<std::string>()));
  }
  LoraOptions options;
  auto r = config.find("r");
  if (r == config.end() || !r->is_number_integer()) {
    return LoraConfigDataLoss(source, "missing integer \"r\"");
  }
  if (r->get<int64_t>() < 1 || r->get<int64_t>() > std::numeric_limits<int32_t>::max()) {
    return LoraConfigDataLoss(source, absl::StrCat("\"r\" must be >= 1, got ", r->dump()));
  }
  options.rank = r->get<int32_t>();
  auto alpha = config.find("lora_alpha");
  if (alpha == config.end() || !alpha->is_number()) {
    return LoraConfigDataLoss(source, "missing number \"lora_alpha\"");
  }
  options.alpha = alpha->get<double>();
  auto dropout = config.find("lora_dropout");
  if (dropout != config.end()) {
    if (!dropout->is_number()) return LoraConfigDataLoss(source, "\"lora_dropout\" must be a number");
    options.dropout = dropout->get<double>();
  }
  auto targets = config.find("target_modules");
  if (targets == config.end() || targets->is_null()) {
    return LoraConfigDataLoss(source, "missing \"target_modules\"");
  }
  if (targets->is_string()) {
    return LoraConfigUnsupported(source, "target_modules given as a pattern");
  }
  if (!targets->is_array()) return LoraConfigDataLoss(source, "\"target_modules\" must be a list");
  options.target_modules.clear();
  for (const Json& t : *targets) {
    if (!t.is_string()) return LoraConfigDataLoss(source, "\"target_modules\" must hold strings");
    if (!ProjectionFromName(t.get<std::string>())) {
      return LoraConfigUnsupported(source, absl::StrCat("target module ", t.get<std::string>()));
    }
    options.target_modules.push_back(t.get<std::string>());
  }
  if (!LoraFieldUnset(config, "bias", "none")) return LoraConfigUnsupported(source, "bias");
  for (const char* flag : {"fan_in_fan_out", "use_dora", "use_rslora"}) {
    if (!LoraFieldUnset(config, flag, false)) return LoraConfigUnsupported(source, flag);
  }
  for (const char* field : {"layers_to_transform", "rank_pattern", "alpha_pattern",
                            "modules_to_save"}) {
    if (!LoraFieldUnset(config, field, nullptr)) return LoraConfigUnsupported(source, field);
  }
  if (absl::Status s = ValidateLoraOptions(options); !s.ok()) {
    return LoraConfigDataLoss(source, std::string(s.message()));
  }
  return options;
}

}  // namespace liger
