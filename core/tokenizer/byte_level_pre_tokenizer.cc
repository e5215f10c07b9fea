#include "core/tokenizer/byte_level_pre_tokenizer.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/json_fields.h"

namespace liger {

absl::StatusOr<ByteLevelPreTokenizer> ByteLevelPreTokenizer::FromJson(
    const nlohmann::json& config) {
  ByteLevelPreTokenizer result;
  const std::string type = JsonTypeOf(config);
  if (type == "Sequence") {
    if (!config.contains("pretokenizers") || !config["pretokenizers"].is_array() ||
        config["pretokenizers"].empty()) {
      return absl::InvalidArgumentError(
          "pre_tokenizer Sequence needs a non-empty \"pretokenizers\" array");
    }
    const auto& items = config["pretokenizers"];
    for (size_t i = 0; i < items.size(); ++i) {
      absl::Status s = AddStep(items[i], i + 1 == items.size(), &result.steps_);
      if (!s.ok()) return s;
    }
  } else {
    absl::Status s = AddStep(config, /*is_last=*/true, &result.steps_);
    if (!s.ok()) return s;
  }
  return result;
}

absl::Status ByteLevelPreTokenizer::AddStep(const nlohmann::json& config, bool is_last,
                                            std::vector<Step>* steps) {
  const std::string type = JsonTypeOf(config);
  if (type == "ByteLevel") {
    if (!is_last) {
      return absl::InvalidArgumentError(
          "pre_tokenizer ByteLevel must be the last step (later steps would see mapped bytes)");
    }
    absl::StatusOr<bool> use_regex = OptionalJsonBool(config, "use_regex", true, "pre_tokenizer field ");
    if (!use_regex.ok()) return use_regex.status();
    absl::StatusOr<bool> add_prefix_space = OptionalJsonBool(config, "add_prefix_space", true, "pre_tokenizer field ");
    if (!add_prefix_space.ok()) return add_prefix_space.status();
    Step step;
    step.add_prefix_space = *add_prefix_space;
    if (*use_regex) step.pattern = SplitPattern::Gpt2();
    steps->push_back(std::move(step));
    return absl::OkStatus();
  }
  if (is_last) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pre_tokenizer must end with ByteLevel (only byte-level BPE is supported), got \"",
        type.empty() ? config.dump() : type, "\""));
  }
  if (type != "Split") {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported pre_tokenizer type \"", type.empty() ? config.dump() : type,
                     "\" (supported: Sequence, Split, ByteLevel)"));
  }
  const auto behavior = config.value("behavior", nlohmann::json());
  if (!behavior.is_string() || behavior.get<std::string>() != "Isolated") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported Split behavior ", behavior.dump(), " (only \"Isolated\" is supported)"));
  }
  absl::StatusOr<bool> invert = OptionalJsonBool(config, "invert", false, "pre_tokenizer field ");
  if (!invert.ok()) return invert.status();
  if (*invert) return absl::InvalidArgumentError("Split with invert=true is not supported");
  const auto pattern = config.value("pattern", nlohmann::json());
  if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported Split pattern ", pattern.dump(), " (only {\"Regex\": ...} is supported)"));
  }
  absl::StatusOr<SplitPattern> split =
      SplitPattern::FromRegex(pattern["Regex"].get<std::string>());
  if (!split.ok()) return split.status();
  Step step;
  step.pattern = *split;
  steps->push_back(std::move(step));
  return absl::OkStatus();
}

void ByteLevelPreTokenizer::Split(std::string_view text, std::vector<std::string>* pieces) const {
  std::vector<std::string> current{std::string(text)};
  std::vector<std::string> next;
  std::vector<std::string_view> parts;
  for (const Step& step : steps_) {
    next.clear();
    for (std::string& piece : current) {
      if (step.add_prefix_space && (piece.empty() || piece[0] != ' ')) piece.insert(0, " ");
      if (!step.pattern) {
        next.push_back(std::move(piece));
        continue;
      }
      parts.clear();
      step.pattern->Split(piece, &parts);
      for (std::string_view part : parts) next.emplace_back(part);
    }
    current.swap(next);
  }
  for (std::string& piece : current) pieces->push_back(std::move(piece));
}

}  // namespace liger
