#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

// One tokenized training document. trained[i] says whether tokens[i] is a loss target when it is
// predicted from the tokens before it.
struct TrainingDocument {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
};

// The prompt an instruction example is trained with; an empty `input` leaves its section out:
//   "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
std::string FormatInstructionPrompt(const std::string& instruction, const std::string& input);

// Reads a JSONL training file, one document per non-blank line, in one of two formats:
// - {"text": ...}: language modelling; encoded exactly as PackDocuments does (the tokenizer's BOS,
//   the text, EOS) and every token is trained.
// - {"instruction": ..., "input": ... (optional), "output": ...}: the prompt of
//   FormatInstructionPrompt encoded with BOS, then the output and EOS; only the output and EOS are
//   trained. A line with both formats' fields is an instruction example.
// Other fields are ignored. Errors are INVALID_ARGUMENT naming the file and 1-based line: invalid
// JSON, a line that is not an object, missing or non-string fields, a document of fewer than 2
// tokens, text the tokenizer rejects; and naming the file when it holds no document.
absl::StatusOr<std::vector<TrainingDocument>> ReadTrainingDocuments(const std::string& path,
                                                                    const Tokenizer& tokenizer);

}  // namespace liger
