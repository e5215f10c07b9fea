#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/split_pattern.h"
#include "nlohmann/json.hpp"

namespace liger {

// The pre_tokenizer of a byte-level tokenizer.json: optional Split steps followed by ByteLevel
// (a Sequence, or ByteLevel alone). Produces the raw bytes of each pre-token; the byte-level
// character mapping is left to the BPE model.
class ByteLevelPreTokenizer {
 public:
  static absl::StatusOr<ByteLevelPreTokenizer> FromJson(const nlohmann::json& config);

  // text must be valid UTF-8.
  void Split(std::string_view text, std::vector<std::string>* pieces) const;

 private:
  struct Step {
    std::optional<SplitPattern> pattern;
    bool add_prefix_space = false;
  };
  static absl::Status AddStep(const nlohmann::json& config, bool is_last,
                              std::vector<Step>* steps);

  std::vector<Step> steps_;
};

}  // namespace liger
