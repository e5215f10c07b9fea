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

// ModelFlagNames plus --adapter DIR (a LoRA adapter in PEFT's layout), for the subcommands that
// load through LoadModelFromFlags.
const std::set<std::string>& AdaptedModelFlagNames();

// The --model checkpoint, with the --adapter merged into it in memory when that flag is given.
absl::StatusOr<std::unique_ptr<Transformer>> LoadModelFromFlags(const CommandLine& cl);

}  // namespace liger
