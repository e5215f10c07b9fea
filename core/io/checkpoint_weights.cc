#include "core/io/checkpoint_weights.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/posix_error.h"
#include "core/io/strict_json.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";
// Real indexes are well under a megabyte; this only stops absurd inputs.
constexpr size_t kMaxIndexBytes = size_t{100} << 20;

std::string Quoted(const std::string& text) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text), "\"");
}

// Shard names come from a file, so they must not reach outside the checkpoint directory.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos &&
         name.find("..") == std::string::npos && name != "." &&
         name.find('\0') == std::string::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointWeights>> CheckpointWeights::Open(
    const std::string& model_dir) {
  struct stat st;
  if (::stat(model_dir.c_str(), &st) != 0)
    return PosixError("cannot open model directory", model_dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(model_dir, " is not a directory"));
  }
  std::string dir = model_dir;
  if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::unique_ptr<CheckpointWeights> weights(new CheckpointWeights(std::move(dir)));

  absl::StatusOr<bool> single = StatIfExists(absl::StrCat(weights->dir_, "/", kSingleFile));
  if (!single.ok()) return single.status();
  absl::Status status;
  if (*single) {
    status = weights->AddFile(kSingleFile);
  } else {
    absl::StatusOr<bool> index = StatIfExists(absl::StrCat(weights->dir_, "/", kIndexFile));
    if (!index.ok()) return index.status();
    if (!*index) {
      return absl::NotFoundError(
          absl::StrCat(model_dir, " has neither ", kSingleFile, " nor ", kIndexFile));
    }
    status = weights->LoadIndex(kIndexFile);
  }
  if (!status.ok()) return status;
  std::sort(weights->file_names_.begin(), weights->file_names_.end());
  return weights;
}

absl::Status CheckpointWeights::AddFile(const std::string& name) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(absl::StrCat(dir_, "/", name));
  if (!file.ok()) return file.status();
  for (const auto& [tensor, view] : (*file)->tensors()) {
    if (!tensors_.emplace(tensor, &view).second) {
      std::string other;
      for (const auto& shard : shards_) {
        if (shard->Find(tensor) != nullptr) other = shard->path();
      }
      return absl::InvalidArgumentError(absl::StrCat(
          dir_, ": tensor ", Quoted(tensor), " appears in both ", other, " and ", (*file)->path()));
    }
  }
  shards_.push_back(*std::move(file));
  file_names_.push_back(name);
  return absl::OkStatus();
}

absl::Status CheckpointWeights::LoadIndex(const std::string& index_name) {
  const std::string index_path = absl::StrCat(dir_, "/", index_name);
  absl::StatusOr<std::string> text = ReadFileToString(index_path, kMaxIndexBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> index = ParseStrictJson(*text, index_path);
  if (!index.ok()) return index.status();
  const auto corrupt = [&index_path](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(index_path, ": ", what));
  };
  if (!index->is_object()) return corrupt("not a JSON object");
  const auto weight_map = index->find("weight_map");
  if (weight_map == index->end() || !weight_map->is_object()) {
    return corrupt("\"weight_map\" is missing or not an object");
  }

  std::map<std::string, std::vector<std::string>> tensors_by_shard;
  for (const auto& item : weight_map->items()) {
    if (!item.value().is_string()) {
      return corrupt(absl::StrCat("weight_map entry ", Quoted(item.key()), " is not a string"));
    }
    const std::string& shard = item.value().get_ref<const std::string&>();
    if (!IsPlainFileName(shard)) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": shard ", Quoted(shard), " of tensor ", Quoted(item.key()),
                       " is not a plain file name inside the checkpoint directory"));
    }
    tensors_by_shard[shard].push_back(item.key());
  }

  for (const auto& [shard, tensors] : tensors_by_shard) {
    absl::StatusOr<bool> exists = StatIfExists(absl::StrCat(dir_, "/", shard));
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      return absl::NotFoundError(
          absl::StrCat(index_path, ": shard ", Quoted(shard), " does not exist in ", dir_));
    }
    if (absl::Status status = AddFile(shard); !status.ok()) return status;
    for (const std::string& tensor : tensors) {
      if (shards_.back()->Find(tensor) == nullptr) {
        return absl::DataLossError(absl::StrCat(index_path, ": tensor ", Quoted(tensor),
                                                " is mapped to ", Quoted(shard),
                                                ", which does not contain it"));
      }
    }
  }
  file_names_.push_back(index_name);
  return absl::OkStatus();
}

const TensorView* CheckpointWeights::Find(std::string_view name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

std::vector<std::string> CheckpointWeights::names() const {
  std::vector<std::string> result;
  result.reserve(tensors_.size());
  for (const auto& entry : tensors_) result.push_back(entry.first);
  return result;
}

std::vector<std::string> CheckpointWeights::files() const { return file_names_; }

}  // namespace liger
