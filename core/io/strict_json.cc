#include "core/io/strict_json.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace liger {

absl::StatusOr<nlohmann::json> ParseStrictJson(std::string_view text, const std::string& context) {
  using Json = nlohmann::json;
  std::vector<std::set<std::string>> open_objects;  // keys seen so far, innermost object last
  bool has_duplicate = false;
  std::string duplicate;
  const Json::parser_callback_t track_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && !has_duplicate &&
            !open_objects.back().insert(parsed.get<std::string>()).second) {
          has_duplicate = true;
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };

  Json value;
  try {
    value = Json::parse(text.begin(), text.end(), track_keys);
  } catch (const Json::exception& e) {
    return absl::DataLossError(absl::StrCat(context, ": invalid JSON: ", e.what()));
  }
  if (has_duplicate) {
    return absl::DataLossError(absl::StrCat(context, ": JSON object repeats the key \"",
                                            absl::Utf8SafeCHexEscape(duplicate), "\""));
  }
  return value;
}

}  // namespace liger
