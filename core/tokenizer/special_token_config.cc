#include "core/tokenizer/special_token_config.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

absl::Status ReadFlag(const nlohmann::json& root, const char* name, const std::string& source,
                      std::optional<bool>* out) {
  if (!root.contains(name) || root[name].is_null()) return absl::OkStatus();
  if (!root[name].is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": \"", name, "\" must be a boolean, got ", root[name].dump()));
  }
  *out = root[name].get<bool>();
  return absl::OkStatus();
}

// Tokens are written either as a string or as a serialized AddedToken {"content": ...}.
absl::Status ReadToken(const nlohmann::json& root, const char* name, const std::string& source,
                       std::optional<std::string>* out) {
  if (!root.contains(name) || root[name].is_null()) return absl::OkStatus();
  const nlohmann::json& value = root[name];
  if (value.is_string()) {
    *out = value.get<std::string>();
  } else if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    *out = value["content"].get<std::string>();
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": \"", name, "\" must be a string or {\"content\": ...}, got ", value.dump()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SpecialTokenConfig> SpecialTokenConfig::FromJson(std::string_view json,
                                                                 std::string_view source_name) {
  const std::string source(source_name);
  const nlohmann::json root = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));
  }
  SpecialTokenConfig config;
  for (absl::Status s : {ReadFlag(root, "add_bos_token", source, &config.add_bos_token),
                         ReadFlag(root, "add_eos_token", source, &config.add_eos_token),
                         ReadToken(root, "bos_token", source, &config.bos_token),
                         ReadToken(root, "eos_token", source, &config.eos_token)}) {
    if (!s.ok()) return s;
  }
  return config;
}

}  // namespace liger
