#include "core/jobs/job_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/posix_error.h"
#include "core/io/strict_json.h"
#include "core/jobs/job_record_json.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr absl::string_view kJobFileSuffix = ".json";
// A job record is a few kilobytes; anything far larger is not one.
constexpr size_t kMaxJobFileBytes = size_t{1} << 20;

absl::StatusOr<JobSnapshot> ReadJobFile(const std::string& path) {
  LIGER_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxJobFileBytes));
  LIGER_ASSIGN_OR_RETURN(nlohmann::json json, ParseStrictJson(text, path));
  return JobSnapshotFromJson(json, path);
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("the jobs directory path is empty");
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    return PosixError("cannot create the jobs directory", dir);
  }
  struct stat info;
  LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(dir, &info));
  if (!exists || !S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the jobs directory ", dir, " is not a directory"));
  }
  return std::unique_ptr<JobStore>(new JobStore(dir));
}

std::string JobStore::PathOf(const std::string& id) const {
  return absl::StrCat(dir_, "/", id, kJobFileSuffix);
}

absl::Status JobStore::Save(const JobSnapshot& job) const {
  return WriteFileAtomically(PathOf(job.id), JobSnapshotToJson(job).dump(2) + "\n");
}

std::vector<JobSnapshot> JobStore::LoadAll(
    const std::function<void(const absl::Status&)>& on_error) const {
  std::vector<JobSnapshot> jobs;
  std::error_code error;
  std::filesystem::directory_iterator it(dir_, error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    // Hidden names are the atomic writer's temporary files (of a crash
    // mid-write).
    if (absl::StartsWith(name, ".") || !absl::EndsWith(name, kJobFileSuffix)) continue;
    const std::string path = it->path().string();
    absl::StatusOr<JobSnapshot> job = ReadJobFile(path);
    const std::string stem = name.substr(0, name.size() - kJobFileSuffix.size());
    if (job.ok() && job->id != stem) {
      job = absl::DataLossError(
          absl::StrCat(path, ": records job \"", job->id, "\", not the one its name says"));
    }
    if (job.ok()) {
      jobs.push_back(*std::move(job));
    } else {
      on_error(job.status());
    }
  }
  if (error) {
    on_error(absl::InternalError(
        absl::StrCat("cannot list the jobs directory ", dir_, ": ", error.message())));
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const JobSnapshot& a, const JobSnapshot& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  return jobs;
}

}  // namespace liger
