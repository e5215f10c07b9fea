#include "core/eval/text_corpus.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace liger {

absl::StatusOr<std::vector<std::string>> ReadJsonlTexts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<std::string> texts;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
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
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  if (texts.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no documents"));
  return texts;
}

}  // namespace liger
