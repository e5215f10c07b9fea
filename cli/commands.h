#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace liger {

// Each subcommand takes the arguments after its name and prints its result to stdout.
absl::Status RunLogitsCommand(const std::vector<std::string>& args);
absl::Status RunEvalCommand(const std::vector<std::string>& args);
absl::Status RunTokenizeCommand(const std::vector<std::string>& args);
absl::Status RunGenerateCommand(const std::vector<std::string>& args);
absl::Status RunConvertCommand(const std::vector<std::string>& args);
absl::Status RunServeCommand(const std::vector<std::string>& args);
// `liger finetune`: LoRA fine-tuning of a local checkpoint (core/train/fine_tune.h).
absl::Status RunFineTuneCommand(const std::vector<std::string>& args);
// `liger session create|get|delete|list|fork --server HOST:PORT ...`: a served model's sessions.
absl::Status RunSessionCommand(const std::vector<std::string>& args);
// `liger health --server HOST:PORT`: the server's grpc.health.v1 status (container health checks).
absl::Status RunHealthCommand(const std::vector<std::string>& args);

}  // namespace liger
