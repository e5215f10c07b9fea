#include "cli/model_flags.h"

#include "core/model/model_loader.h"
#include "core/train/adapter_merge.h"
#include "core/util/status_macros.h"

namespace liger {

const std::set<std::string>& ModelFlagNames() {
  static const std::set<std::string> names = {"model", "dtype", "device"};
  return names;
}

const std::set<std::string>& AdaptedModelFlagNames() {
  static const std::set<std::string> names = [] {
    std::set<std::string> all = ModelFlagNames();
    all.insert("adapter");
    return all;
  }();
  return names;
}

absl::StatusOr<std::unique_ptr<Transformer>> LoadModelFromFlags(const CommandLine& cl) {
  LIGER_ASSIGN_OR_RETURN(std::string dir, cl.Required("model"));
  ModelLoadOptions options;
  LIGER_ASSIGN_OR_RETURN(options.dtype, ParseComputeDType(cl.String("dtype", "float32")));
  LIGER_ASSIGN_OR_RETURN(options.device, ParseDevice(cl.String("device", "cpu")));
  if (!cl.Has("adapter")) return LoadModel(dir, options);
  const std::string adapter = cl.String("adapter", "");
  if (adapter.empty()) return absl::InvalidArgumentError("flag --adapter must not be empty");
  return LoadModelWithAdapter(dir, adapter, options);
}

}  // namespace liger
