#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace liger::bench {

// `liger serve --port 0 --metrics-port 0` started by the load benchmark. The addresses come from
// the lines the server prints on stdout; its logs go to a temporary file, quoted when it fails.
// The destructor kills (SIGKILL) a server still running, and the server dies with the benchmark.
class ServeChild {
 public:
  // Starts `liger serve --model model_dir --port 0 --metrics-port 0` and waits until it listens.
  // FAILED_PRECONDITION (with its log) if it exits first, DEADLINE_EXCEEDED after `timeout`.
  static absl::StatusOr<std::unique_ptr<ServeChild>> Start(const std::string& liger,
                                                           const std::string& model_dir,
                                                           absl::Duration timeout);
  ~ServeChild();
  ServeChild(const ServeChild&) = delete;
  ServeChild& operator=(const ServeChild&) = delete;

  const std::string& address() const { return address_; }
  const std::string& metrics_address() const { return metrics_address_; }

  // SIGTERM, then waits: the exit code, INTERNAL if a signal ended it, DEADLINE_EXCEEDED if it
  // still runs after `timeout`.
  absl::StatusOr<int> Stop(absl::Duration timeout);

 private:
  ServeChild(pid_t pid, int stdout_fd, std::string log_path)
      : pid_(pid), stdout_fd_(stdout_fd), log_path_(std::move(log_path)) {}
  absl::Status WaitUntilListening(absl::Duration timeout);
  bool Reaped();
  std::string LogTail() const;

  const pid_t pid_;
  const int stdout_fd_;  // kept open until the end: a closed pipe would kill a late write
  const std::string log_path_;
  bool exited_ = false;
  int wait_status_ = 0;
  std::string address_;
  std::string metrics_address_;
};

}  // namespace liger::bench
