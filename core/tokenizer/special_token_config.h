#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace liger {

// The special-token settings of a checkpoint's tokenizer_config.json; absent fields are nullopt.
struct SpecialTokenConfig {
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;

  // source names the file in error messages.
  static absl::StatusOr<SpecialTokenConfig> FromJson(std::string_view json,
                                                     std::string_view source);
};

}  // namespace liger
