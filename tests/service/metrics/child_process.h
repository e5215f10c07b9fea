#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace liger::testing {

// A program run in the background for a test. The destructor stops it (SIGTERM, then SIGKILL after
// a grace period) and reaps it, so a failed assertion leaves no orphan; the child also gets SIGKILL
// if the thread that started it dies first.
class ChildProcess {
 public:
  // Runs argv[0] (a path; no PATH search, no shell) with stdin from /dev/null and stdout and stderr
  // written to `log_path`. An argv[0] that cannot be executed shows as exit status 127.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Whether the child has ended; reaps it when it has.
  bool HasExited();
  // "exit status N" or "killed by signal N" once HasExited(); "running" before.
  std::string ExitDescription() const;

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  bool exited_ = false;
  int wait_status_ = 0;
};

}  // namespace liger::testing
