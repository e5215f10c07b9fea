#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace liger {

// Writes a file so that readers see either the previous contents of `path` or the complete new
// contents, never a mix: bytes go to a temporary sibling ".<name>.tmp-<random>", and Commit()
// fsyncs it, renames it over `path` and fsyncs the directory. On any error, and when the writer is
// destroyed without Commit(), the temporary file is removed and `path` is left untouched.
class AtomicFileWriter {
 public:
  // Errors come from creating the temporary file, e.g. NOT_FOUND if the directory is missing.
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);

  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Write errors (e.g. ENOSPC) are reported with the errno text; after one, every later call
  // returns the same error.
  absl::Status Append(std::string_view bytes);
  // Publishes the file. Only the first call can succeed.
  absl::Status Commit();

  const std::string& path() const { return path_; }

 private:
  AtomicFileWriter(std::string path, std::string dir, std::string temp_path, int fd);

  // Records the first error and removes the temporary file.
  absl::Status Fail(absl::Status status);
  void Discard();

  std::string path_;
  std::string dir_;
  std::string temp_path_;
  int fd_;  // -1 once closed
  bool committed_ = false;
  absl::Status status_;
};

}  // namespace liger
