#include "core/train/distributed_environment.h"

#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// The integer in variable `name`, `fallback` when unset; INVALID_ARGUMENT outside [low, high].
absl::StatusOr<int> EnvironmentInt(const std::function<const char*(const char*)>& getenv,
                                   const char* name, int fallback, int low, int high) {
  const char* text = getenv(name);
  if (text == nullptr) return fallback;
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < low || value > high) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "=\"", text,
                                                   "\" must be an integer in [", low, ", ", high,
                                                   "]"));
  }
  return value;
}

}  // namespace

absl::StatusOr<DistributedEnvironment> DistributedEnvironmentFromEnv(
    const std::function<const char*(const char*)>& getenv_or_null) {
  const std::function<const char*(const char*)> getenv =
      getenv_or_null ? getenv_or_null : [](const char* name) { return std::getenv(name); };
  DistributedEnvironment env;
  LIGER_ASSIGN_OR_RETURN(env.world_size, EnvironmentInt(getenv, "WORLD_SIZE", 1, 1, 65536));
  if (!env.distributed()) return env;
  const char* rank_variable = getenv("RANK") != nullptr ? "RANK" : "JOB_COMPLETION_INDEX";
  if (getenv(rank_variable) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "WORLD_SIZE=", env.world_size, " but neither RANK nor JOB_COMPLETION_INDEX is set"));
  }
  LIGER_ASSIGN_OR_RETURN(env.rank,
                         EnvironmentInt(getenv, rank_variable, 0, 0, env.world_size - 1));
  LIGER_ASSIGN_OR_RETURN(env.local_rank, EnvironmentInt(getenv, "LOCAL_RANK", 0, 0, 1023));
  LIGER_ASSIGN_OR_RETURN(env.master_port, EnvironmentInt(getenv, "MASTER_PORT", 29500, 1, 65535));
  LIGER_ASSIGN_OR_RETURN(env.timeout_seconds,
                         EnvironmentInt(getenv, "LIGER_DIST_TIMEOUT_SECONDS", 600, 1, 86400));
  const char* agent_store = getenv("TORCHELASTIC_USE_AGENT_STORE");
  env.agent_store = agent_store != nullptr && std::string(agent_store) == "True";
  const char* master = getenv("MASTER_ADDR");
  if (master == nullptr || *master == '\0') {
    if (env.rank != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "WORLD_SIZE=", env.world_size, ": MASTER_ADDR must name the host of rank 0"));
    }
  } else {
    env.master_addr = master;
  }
  return env;
}

}  // namespace liger
