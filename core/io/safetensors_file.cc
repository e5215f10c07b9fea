#include "core/io/safetensors_file.h"

#include <utility>

#include "core/io/safetensors_header.h"

namespace liger {

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  absl::StatusOr<SafetensorsHeader> header = ParseSafetensorsHeader((*mapped)->bytes(), path);
  if (!header.ok()) return header.status();

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(*std::move(mapped)));
  const char* base = file->file_->bytes().data();
  for (auto& [name, entry] : header->tensors) {
    TensorView view;
    view.dtype = entry.dtype;
    view.shape = std::move(entry.shape);
    view.data = base + entry.begin;
    view.nbytes = entry.end - entry.begin;
    file->tensors_.emplace(name, std::move(view));
  }
  file->metadata_ = std::move(header->metadata);
  return file;
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  const auto it = tensors_.find(std::string(name));
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace liger
