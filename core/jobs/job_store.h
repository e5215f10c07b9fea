#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/jobs/job_snapshot.h"

namespace liger {

// The jobs directory: one JSON file per job, "<id>.json", each replaced
// atomically, so a crash leaves every job's previous or new record, never a
// torn one.
class JobStore {
 public:
  // Creates `dir` if it is missing (its parent must exist). INVALID_ARGUMENT
  // for an empty path, FAILED_PRECONDITION if something other than a directory
  // is there.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  absl::Status Save(const JobSnapshot& job) const;

  // Every job record in the directory, oldest first. A file that cannot be read
  // or parsed, or whose id does not match its name, is skipped after being
  // reported to `on_error` (DATA_LOSS or the read error, naming the file).
  std::vector<JobSnapshot> LoadAll(const std::function<void(const absl::Status&)>& on_error) const;

 private:
  explicit JobStore(std::string dir) : dir_(std::move(dir)) {}

  std::string PathOf(const std::string& id) const;

  const std::string dir_;
};

}  // namespace liger
