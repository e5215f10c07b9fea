#include "core/tokenizer/json_fields.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace liger {

std::string JsonTypeOf(const nlohmann::json& component) {
  if (!component.is_object()) return "";
  auto it = component.find("type");
  if (it == component.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

absl::StatusOr<bool> OptionalJsonBool(const nlohmann::json& parent, const char* name, bool fallback,
                                      absl::string_view context) {
  auto it = parent.find(name);
  if (it == parent.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(context), "\"", name, "\" must be a boolean"));
  }
  return it->get<bool>();
}

}  // namespace liger
