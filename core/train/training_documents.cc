#include "core/train/training_documents.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/eval/perplexity.h"
#include "core/io/file_util.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

// The string field `name` of `doc`: nullopt when absent, an error when present but not a string.
absl::StatusOr<std::optional<std::string>> TrainingStringField(const nlohmann::json& doc,
                                                               const std::string& name) {
  auto it = doc.find(name);
  if (it == doc.end()) return std::nullopt;
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("field \"", name, "\" is not a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<TrainingDocument> TextTrainingDocument(const std::string& text, const Tokenizer& tokenizer) {
  // PackDocuments of a single document is that document's encoding: BOS, text, EOS.
  TrainingDocument document;
  LIGER_ASSIGN_OR_RETURN(document.tokens, PackDocuments({text}, tokenizer));
  document.trained.assign(document.tokens.size(), 1);
  return document;
}

absl::StatusOr<TrainingDocument> InstructionTrainingDocument(const std::string& instruction,
                                                     const std::string& input,
                                                     const std::string& output,
                                                     const Tokenizer& tokenizer) {
  if (!tokenizer.eos_id()) {
    return absl::FailedPreconditionError("the tokenizer defines no EOS token to end the response");
  }
  TrainingDocument document;
  LIGER_ASSIGN_OR_RETURN(
      document.tokens,
      tokenizer.Encode(FormatInstructionPrompt(instruction, input), /*add_special_tokens=*/true));
  document.trained.assign(document.tokens.size(), 0);
  // The response is encoded on its own so that the prompt/response boundary is a token boundary.
  LIGER_ASSIGN_OR_RETURN(std::vector<int32_t> response,
                         tokenizer.Encode(output, /*add_special_tokens=*/false));
  response.push_back(*tokenizer.eos_id());
  document.tokens.insert(document.tokens.end(), response.begin(), response.end());
  document.trained.resize(document.tokens.size(), 1);
  return document;
}

absl::StatusOr<TrainingDocument> ParseTrainingLine(absl::string_view line,
                                                   const Tokenizer& tokenizer) {
  auto doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("invalid JSON");
  if (!doc.is_object()) return absl::InvalidArgumentError("line is not a JSON object");
  LIGER_ASSIGN_OR_RETURN(std::optional<std::string> instruction,
                         TrainingStringField(doc, "instruction"));
  LIGER_ASSIGN_OR_RETURN(std::optional<std::string> output, TrainingStringField(doc, "output"));
  TrainingDocument document;
  if (instruction || output) {
    if (!instruction) return absl::InvalidArgumentError("missing string field \"instruction\"");
    if (!output) return absl::InvalidArgumentError("missing string field \"output\"");
    LIGER_ASSIGN_OR_RETURN(std::optional<std::string> input, TrainingStringField(doc, "input"));
    LIGER_ASSIGN_OR_RETURN(document, InstructionTrainingDocument(*instruction, input.value_or(""),
                                                         *output, tokenizer));
  } else {
    LIGER_ASSIGN_OR_RETURN(std::optional<std::string> text, TrainingStringField(doc, "text"));
    if (!text) {
      return absl::InvalidArgumentError(
          "missing string field \"text\" (or \"instruction\" and \"output\")");
    }
    LIGER_ASSIGN_OR_RETURN(document, TextTrainingDocument(*text, tokenizer));
  }
  if (document.tokens.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("the document encodes to ",
                                                   document.tokens.size(),
                                                   " token(s); at least 2 are needed to train"));
  }
  return document;
}

}  // namespace

std::string FormatInstructionPrompt(const std::string& instruction, const std::string& input) {
  std::string prompt = absl::StrCat("### Instruction:\n", instruction, "\n\n");
  if (!input.empty()) absl::StrAppend(&prompt, "### Input:\n", input, "\n\n");
  absl::StrAppend(&prompt, "### Response:\n");
  return prompt;
}

absl::StatusOr<std::vector<TrainingDocument>> ReadTrainingDocuments(const std::string& path,
                                                                    const Tokenizer& tokenizer) {
  LIGER_ASSIGN_OR_RETURN(std::string content, ReadFileToString(path));
  std::vector<TrainingDocument> documents;
  int64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    absl::StatusOr<TrainingDocument> document = ParseTrainingLine(line, tokenizer);
    if (!document.ok()) {
      return absl::Status(document.status().code(),
                          absl::StrCat(path, ":", line_number, ": ", document.status().message()));
    }
    documents.push_back(*std::move(document));
  }
  if (documents.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no documents"));
  return documents;
}

}  // namespace liger
