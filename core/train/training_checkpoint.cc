#include "core/train/training_checkpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/posix_error.h"
#include "core/io/safetensors_file.h"
#include "core/io/safetensors_writer.h"
#include "core/io/strict_json.h"
#include "core/model/tensor_conversion.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr char kCheckpointFileName[] = "checkpoint.safetensors";
constexpr char kCheckpointMetadataKey[] = "liger_fine_tune";
constexpr int kCheckpointVersion = 1;

// Owned CPU copies of the tensors to write, which must outlive the views handed to the writer.
class CheckpointTensorList {
 public:
  absl::Status Add(const std::string& name, const torch::Tensor& tensor) {
    try {
      names_.push_back(name);
      tensors_.push_back(tensor.detach().to(torch::kCPU).contiguous());
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("cannot copy ", name, " for the checkpoint: ", e.what_without_backtrace()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::pair<std::string, TensorView>>> Views() const {
    std::vector<std::pair<std::string, TensorView>> views;
    for (size_t i = 0; i < names_.size(); ++i) {
      LIGER_ASSIGN_OR_RETURN(TensorView view, ViewOf(tensors_[i]));
      views.emplace_back(names_[i], view);
    }
    return views;
  }

 private:
  std::vector<std::string> names_;
  std::vector<torch::Tensor> tensors_;
};

std::string CheckpointAdapterKey(const std::string& name) { return "adapter/" + name; }
std::string CheckpointExpAvgKey(const std::string& name) { return "exp_avg/" + name; }
std::string CheckpointExpAvgSqKey(const std::string& name) { return "exp_avg_sq/" + name; }
constexpr char kCpuRngKey[] = "rng/cpu";
constexpr char kDeviceRngKey[] = "rng/device";

// Whether it created `dir` (false if it was there).
absl::StatusOr<bool> MakeCheckpointDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0777) == 0) return true;
  if (errno == EEXIST) return false;
  return PosixError("cannot create the checkpoint directory", dir);
}

absl::StatusOr<torch::Tensor> CheckpointTensor(const SafetensorsFile& file,
                                               const std::string& name) {
  const TensorView* view = file.Find(name);
  if (view == nullptr) {
    return absl::DataLossError(absl::StrCat(file.path(), ": the checkpoint lacks tensor ", name));
  }
  return ToTensor(*view);
}

// Reads field `name` of the metadata, DATA_LOSS when it is missing or of the wrong type.
template <typename T>
absl::StatusOr<T> CheckpointField(const nlohmann::json& meta, const std::string& name,
                                  const std::string& path) {
  auto it = meta.find(name);
  try {
    if (it != meta.end()) return it->get<T>();
  } catch (const nlohmann::json::exception&) {
  }
  return absl::DataLossError(absl::StrCat(path, ": the checkpoint's field \"", name,
                                          "\" is missing or malformed"));
}

}  // namespace

absl::Status SaveTrainingCheckpoint(const std::string& dir, const TrainingCheckpoint& c) {
  nlohmann::json meta = {
      {"version", kCheckpointVersion},
      {"step", c.step},
      {"epoch", c.epoch},
      {"next_sequence", c.next_sequence},
      {"tokens_processed", c.tokens_processed},
      {"eval_perplexity", c.eval_perplexity ? nlohmann::json(*c.eval_perplexity) : nlohmann::json()},
      {"data_checksum", c.data_checksum},
      {"options", c.options},
  };
  CheckpointTensorList tensors;
  nlohmann::json adapter_names = nlohmann::json::array();
  for (const auto& [name, tensor] : c.adapter) {
    adapter_names.push_back(name);
    LIGER_RETURN_IF_ERROR(tensors.Add(CheckpointAdapterKey(name), tensor));
  }
  meta["adapter"] = adapter_names;
  nlohmann::json optimizer_steps = nlohmann::json::object();
  for (const auto& [name, moments] : c.optimizer) {
    optimizer_steps[name] = moments.steps;
    LIGER_RETURN_IF_ERROR(tensors.Add(CheckpointExpAvgKey(name), moments.exp_avg));
    LIGER_RETURN_IF_ERROR(tensors.Add(CheckpointExpAvgSqKey(name), moments.exp_avg_sq));
  }
  meta["optimizer_steps"] = optimizer_steps;
  LIGER_RETURN_IF_ERROR(tensors.Add(kCpuRngKey, c.cpu_rng_state));
  if (c.device_rng_state.defined()) {
    LIGER_RETURN_IF_ERROR(tensors.Add(kDeviceRngKey, c.device_rng_state));
  }
  LIGER_ASSIGN_OR_RETURN(auto views, tensors.Views());
  LIGER_ASSIGN_OR_RETURN(bool created, MakeCheckpointDir(dir));
  absl::Status written = WriteSafetensors(dir + "/" + kCheckpointFileName, views,
                                          {{kCheckpointMetadataKey, meta.dump()}});
  // A directory without a checkpoint (a first save that hit a full disk) would pass for an
  // interrupted run's: a fresh run would refuse to start and a resume would find nothing.
  if (!written.ok() && created) ::rmdir(dir.c_str());
  return written;
}

absl::StatusOr<bool> HasTrainingCheckpoint(const std::string& dir) {
  return StatIfExists(dir + "/" + kCheckpointFileName);
}

absl::StatusOr<TrainingCheckpoint> LoadTrainingCheckpoint(const std::string& dir) {
  const std::string path = dir + "/" + kCheckpointFileName;
  LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(path));
  if (!exists) return absl::NotFoundError(absl::StrCat("no checkpoint to resume in ", dir));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> opened, SafetensorsFile::Open(path));
  const SafetensorsFile& file = *opened;
  auto meta_text = file.metadata().find(kCheckpointMetadataKey);
  if (meta_text == file.metadata().end()) {
    return absl::DataLossError(absl::StrCat(path, ": not a fine-tuning checkpoint"));
  }
  LIGER_ASSIGN_OR_RETURN(nlohmann::json meta, ParseStrictJson(meta_text->second, path));
  if (!meta.is_object()) return absl::DataLossError(absl::StrCat(path, ": malformed metadata"));
  LIGER_ASSIGN_OR_RETURN(int version, CheckpointField<int>(meta, "version", path));
  if (version != kCheckpointVersion) {
    return absl::DataLossError(
        absl::StrCat(path, ": unsupported checkpoint version ", version));
  }
  TrainingCheckpoint c;
  LIGER_ASSIGN_OR_RETURN(c.step, CheckpointField<int64_t>(meta, "step", path));
  LIGER_ASSIGN_OR_RETURN(c.epoch, CheckpointField<int64_t>(meta, "epoch", path));
  LIGER_ASSIGN_OR_RETURN(c.next_sequence, CheckpointField<int64_t>(meta, "next_sequence", path));
  LIGER_ASSIGN_OR_RETURN(c.tokens_processed,
                         CheckpointField<int64_t>(meta, "tokens_processed", path));
  LIGER_ASSIGN_OR_RETURN(c.data_checksum, CheckpointField<uint32_t>(meta, "data_checksum", path));
  LIGER_ASSIGN_OR_RETURN(c.options, CheckpointField<nlohmann::json>(meta, "options", path));
  LIGER_ASSIGN_OR_RETURN(nlohmann::json perplexity,
                         CheckpointField<nlohmann::json>(meta, "eval_perplexity", path));
  if (perplexity.is_number()) c.eval_perplexity = perplexity.get<double>();
  LIGER_ASSIGN_OR_RETURN(std::vector<std::string> adapter_names,
                         CheckpointField<std::vector<std::string>>(meta, "adapter", path));
  for (const std::string& name : adapter_names) {
    LIGER_ASSIGN_OR_RETURN(torch::Tensor tensor, CheckpointTensor(file, CheckpointAdapterKey(name)));
    c.adapter.emplace_back(name, tensor);
  }
  LIGER_ASSIGN_OR_RETURN(auto steps, (CheckpointField<std::map<std::string, int64_t>>(
                                         meta, "optimizer_steps", path)));
  for (const auto& [name, count] : steps) {
    AdamMoments& moments = c.optimizer[name];
    moments.steps = count;
    LIGER_ASSIGN_OR_RETURN(moments.exp_avg, CheckpointTensor(file, CheckpointExpAvgKey(name)));
    LIGER_ASSIGN_OR_RETURN(moments.exp_avg_sq, CheckpointTensor(file, CheckpointExpAvgSqKey(name)));
  }
  LIGER_ASSIGN_OR_RETURN(c.cpu_rng_state, CheckpointTensor(file, kCpuRngKey));
  if (file.Find(kDeviceRngKey) != nullptr) {
    LIGER_ASSIGN_OR_RETURN(c.device_rng_state, CheckpointTensor(file, kDeviceRngKey));
  }
  return c;
}

}  // namespace liger
