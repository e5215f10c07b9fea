#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace liger::testing {

// `liger serve` run as a child process for a test: it finds the addresses the server prints, can
// signal it and reports how it exited. stdout and stderr go to files in a directory of the test's.
// The destructor kills (SIGKILL) and reaps a child that is still running, and the child is killed
// if the test process dies first, so a failed assertion leaves no server behind.
class ServeProcess {
 public:
  // Runs build/liger serve `args...`. Errors only when the process cannot be started.
  static absl::StatusOr<std::unique_ptr<ServeProcess>> Start(const std::vector<std::string>& args,
                                                             const std::string& dir);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Waits for the "listening on HOST:PORT" line on stdout and, with `expect_metrics`, the
  // "metrics on HOST:PORT" line. FAILED_PRECONDITION (with stderr) if the server exits first,
  // DEADLINE_EXCEEDED if the lines do not come in time.
  absl::Status WaitUntilListening(absl::Duration timeout, bool expect_metrics);
  const std::string& address() const { return address_; }
  const std::string& metrics_address() const { return metrics_address_; }

  void Signal(int signal_number);
  // The exit status once the server has ended; DEADLINE_EXCEEDED if it is still running after
  // `timeout`, INTERNAL if it was killed by a signal.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);

  std::string Stdout() const;
  std::string Stderr() const;

 private:
  ServeProcess(pid_t pid, std::string stdout_path, std::string stderr_path)
      : pid_(pid), stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {}
  // Reaps the child if it has ended.
  bool HasExited();

  pid_t pid_;
  bool exited_ = false;
  int wait_status_ = 0;
  const std::string stdout_path_;
  const std::string stderr_path_;
  std::string address_;
  std::string metrics_address_;
};

}  // namespace liger::testing
