#include "tests/service/metrics/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace liger::testing {
namespace {

constexpr auto kChildTerminateGrace = std::chrono::seconds(5);

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to run");
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed, since other threads' locks may be held.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    const int open_errno = errno;
    return absl::Status(absl::ErrnoToStatusCode(open_errno),
                        absl::StrCat("cannot create ", log_path, ": ", std::strerror(open_errno)));
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);  // the parent died before prctl took effect
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // Sockets of the test (e.g. a listening metrics server) must not leak into the child.
    close_range(3, ~0U, 0);
    execv(args[0], args.data());
    _exit(127);
  }
  const int fork_errno = errno;
  close(log_fd);
  if (null_fd >= 0) close(null_fd);
  if (pid < 0) {
    return absl::Status(absl::ErrnoToStatusCode(fork_errno),
                        absl::StrCat("fork failed: ", std::strerror(fork_errno)));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (HasExited()) return;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kChildTerminateGrace;
  while (!HasExited()) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &wait_status_, 0);
      exited_ = true;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool ChildProcess::HasExited() {
  if (!exited_ && waitpid(pid_, &wait_status_, WNOHANG) == pid_) exited_ = true;
  return exited_;
}

std::string ChildProcess::ExitDescription() const {
  if (!exited_) return "running";
  if (WIFEXITED(wait_status_)) return absl::StrCat("exit status ", WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) return absl::StrCat("killed by signal ", WTERMSIG(wait_status_));
  return absl::StrCat("wait status ", wait_status_);
}

}  // namespace liger::testing
