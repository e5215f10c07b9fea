#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/model_config.h"

namespace liger {

// The config.json of the Liger conversion of a checkpoint whose config.json is `original_json`,
// in the authors' format: every original field is kept, model_type becomes liger_<variant>,
// architectures [Liger<VARIANT>ForCausalLM], and a "liger" object records base_model_type and
// `options` (softmax_layers sorted). Converting a converted config keeps its base_model_type and
// replaces the old "liger" object. INVALID_ARGUMENT (prefixed with `source`) if `original_json`
// does not parse with ParseModelConfig; INVALID_ARGUMENT naming the field for invalid options
// (checked by parsing the result back, so anything returned loads with LoadModelConfig).
absl::StatusOr<std::string> ConvertedConfigJson(absl::string_view original_json,
                                                absl::string_view source,
                                                const LigerConfig& options);

}  // namespace liger
