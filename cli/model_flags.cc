#include "cli/model_flags.h"

#include "core/model/model_loader.h"
#include "core/util/status_macros.h"

namespace liger {

const std::set<std::string>& ModelFlagNames() {
  static const std::set<std::string> names = {"model", "dtype", "device"};
  return names;
}

absl::StatusOr<std::unique_ptr<Transformer>> LoadModelFromFlags(const CommandLine& cl) {
  LIGER_ASSIGN_OR_RETURN(std::string dir, cl.Required("model"));
  ModelLoadOptions options;
  LIGER_ASSIGN_OR_RETURN(options.dtype, ParseComputeDType(cl.String("dtype", "float32")));
  LIGER_ASSIGN_OR_RETURN(options.device, ParseDevice(cl.String("device", "cpu")));
  return LoadModel(dir, options);
}

}  // namespace liger
