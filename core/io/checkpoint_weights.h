#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/safetensors_file.h"
#include "core/io/tensor_view.h"

namespace liger {

// The weights of a Hugging Face checkpoint directory: "model.safetensors", or, when that is absent,
// the shards listed by "model.safetensors.index.json". All files stay mapped while this lives.
class CheckpointWeights {
 public:
  // NOT_FOUND naming `model_dir` if it holds neither file, or naming a missing shard. For an index:
  // DATA_LOSS if it is not valid JSON with a "weight_map" object of name -> file name strings, or
  // if a mapped tensor is missing from its shard; INVALID_ARGUMENT for a shard name that is not a
  // plain file name (contains "/" or ".."), or a tensor present in two shards. Shard errors
  // propagate as from SafetensorsFile::Open. Tensors in a shard but absent from weight_map are
  // still loaded, as transformers does.
  static absl::StatusOr<std::unique_ptr<CheckpointWeights>> Open(const std::string& model_dir);

  // nullptr if there is no tensor `name`.
  const TensorView* Find(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  // The files read, relative to dir(), sorted: the safetensors files and the index, if any.
  std::vector<std::string> files() const;
  const std::string& dir() const { return dir_; }

 private:
  explicit CheckpointWeights(std::string dir) : dir_(std::move(dir)) {}

  absl::Status AddFile(const std::string& name);
  absl::Status LoadIndex(const std::string& index_name);

  std::string dir_;
  std::vector<std::string> file_names_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*, std::less<>> tensors_;
};

}  // namespace liger
