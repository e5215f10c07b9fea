#include "core/eval/text_corpus.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/io/file_util.h"
#include "nlohmann/json.hpp"

namespace liger {

absl::StatusOr<std::vector<std::string>> ReadJsonlTexts(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) return content.status();
  std::vector<std::string> texts;
  int64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(*content, '\n')) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const std::string where = absl::StrCat(path, ":", line_number, ": ");
    if (doc.is_discarded()) return absl::InvalidArgumentError(where + "invalid JSON");
    if (!doc.is_object()) return absl::InvalidArgumentError(where + "line is not a JSON object");
    auto text = doc.find("text");
    if (text == doc.end() || !text->is_string()) {
      return absl::InvalidArgumentError(where + "missing string field \"text\"");
    }
    texts.push_back(text->get<std::string>());
  }
  if (texts.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no documents"));
  return texts;
}

}  // namespace liger
