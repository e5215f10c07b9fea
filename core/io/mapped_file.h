#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace liger {

// A regular file mapped read-only into memory; unmapped on destruction. Another process truncating
// the file while it is mapped makes reads fault (SIGBUS), as with any mmap reader.
class MappedFile {
 public:
  // NOT_FOUND if `path` does not exist; FAILED_PRECONDITION if it is not a regular file (a
  // directory, FIFO, device); other errno-derived codes for open/mmap failures.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The whole file; empty (with a null data pointer) for an empty file.
  std::string_view bytes() const { return {static_cast<const char*>(base_), size_}; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, void* base, size_t size)
      : path_(std::move(path)), base_(base), size_(size) {}

  std::string path_;
  void* base_;
  size_t size_;
};

}  // namespace liger
