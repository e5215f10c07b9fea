#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "core/io/mapped_file.h"
#include "core/io/tensor_view.h"

namespace liger {

// A safetensors file mapped read-only, with a validated header. The TensorViews point into the
// mapping and stay valid as long as this object lives.
class SafetensorsFile {
 public:
  // NOT_FOUND for a missing file, FAILED_PRECONDITION for a directory or other non-regular file,
  // DATA_LOSS for a truncated or corrupt file, INVALID_ARGUMENT for well-formed content that is not
  // supported (e.g. an F8 dtype). Messages name the file and, where relevant, the tensor.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  // nullptr if there is no tensor `name`.
  const TensorView* Find(std::string_view name) const;
  // The header's "__metadata__" (empty if absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_->path(); }

 private:
  explicit SafetensorsFile(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}

  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace liger
