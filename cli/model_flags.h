#pragma once

#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "cli/command_line.h"
#include "core/model/transformer.h"

namespace liger {

// Flags every model-running subcommand shares: --model DIR, --dtype, --device.
const std::set<std::string>& ModelFlagNames();

absl::StatusOr<std::unique_ptr<Transformer>> LoadModelFromFlags(const CommandLine& cl);

}  // namespace liger
