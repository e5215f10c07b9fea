#include "core/convert/converted_config.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

// The architecture name the authors' code registers for each variant.
absl::StatusOr<std::string> LigerArchitecture(const std::string& variant) {
  if (variant == "gla") return std::string("LigerGLAForCausalLM");
  if (variant == "hgrn2") return std::string("LigerHGRN2ForCausalLM");
  if (variant == "gsa") return std::string("LigerGSAForCausalLM");
  return absl::InvalidArgumentError(
      absl::StrCat("variant \"", variant, "\" is not one of gla, hgrn2, gsa"));
}

}  // namespace

absl::StatusOr<std::string> ConvertedConfigJson(absl::string_view original_json,
                                                absl::string_view source,
                                                const LigerConfig& options) {
  // Validates the input; for a converted checkpoint model_type is already its base_model_type.
  LIGER_ASSIGN_OR_RETURN(ModelConfig base, ParseModelConfig(original_json, source));
  LIGER_ASSIGN_OR_RETURN(std::string architecture, LigerArchitecture(options.variant));
  LigerConfig liger = options;
  std::sort(liger.softmax_layers.begin(), liger.softmax_layers.end());

  // Ordered, so the output keeps the original field order and diffs cleanly against it.
  nlohmann::ordered_json root =
      nlohmann::ordered_json::parse(original_json, nullptr, /*allow_exceptions=*/false);
  if (!root.is_object()) return absl::InternalError(absl::StrCat(source, ": cannot parse again"));
  root["model_type"] = absl::StrCat("liger_", liger.variant);
  root["architectures"] = nlohmann::ordered_json::array({architecture});
  root.erase("liger");
  root["liger"] = {{"base_model_type", base.model_type},
                   {"variant", liger.variant},
                   {"window", liger.window},
                   {"mix", liger.mix},
                   {"softmax_layers", liger.softmax_layers},
                   {"gate_normalizer", liger.gate_normalizer},
                   {"gsa_slots", liger.gsa_slots},
                   {"chunk_size", liger.chunk_size}};
  std::string text = root.dump(2) + "\n";

  // The model parser is the one definition of valid Liger options (ranges, layer indices).
  LIGER_RETURN_IF_ERROR(ParseModelConfig(text, "conversion options").status());
  return text;
}

}  // namespace liger
