#include "bench/load/serve_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace liger::bench {
namespace {

constexpr int kServeChildPollMs = 50;
constexpr size_t kServeChildLogTailBytes = 4000;

// The address after `prefix` on a complete line of `output`, or "".
std::string ServeChildAddressAfter(const std::string& output, absl::string_view prefix) {
  const size_t complete = output.rfind('\n');
  if (complete == std::string::npos) return "";
  for (absl::string_view line : absl::StrSplit(output.substr(0, complete), '\n')) {
    if (absl::ConsumePrefix(&line, prefix)) return std::string(line);
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServeChild>> ServeChild::Start(const std::string& liger,
                                                             const std::string& model_dir,
                                                             absl::Duration timeout) {
  std::vector<std::string> argv = {liger,  "serve", "--model", model_dir, "--port",
                                   "0",    "--metrics-port",   "0"};
  std::vector<char*> c_argv;
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  char log_path[] = "/tmp/liger-load-serve-XXXXXX";
  const int log_fd = mkstemp(log_path);
  int out_pipe[2] = {-1, -1};
  if (log_fd < 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("cannot set up the server's output: ",
                                            std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close_range(3, ~0U, 0);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  const int fork_errno = errno;
  close(out_pipe[1]);
  close(log_fd);
  if (pid < 0) {
    close(out_pipe[0]);
    unlink(log_path);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(fork_errno)));
  }
  std::unique_ptr<ServeChild> child(new ServeChild(pid, out_pipe[0], log_path));
  if (absl::Status s = child->WaitUntilListening(timeout); !s.ok()) return s;
  return child;
}

ServeChild::~ServeChild() {
  if (!Reaped()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &wait_status_, 0);
  }
  close(stdout_fd_);
  unlink(log_path_.c_str());
}

absl::Status ServeChild::WaitUntilListening(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string output;
  while (absl::Now() < deadline) {
    pollfd readable = {stdout_fd_, POLLIN, 0};
    if (poll(&readable, 1, kServeChildPollMs) > 0) {
      char buffer[512];
      const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
      if (n > 0) output.append(buffer, static_cast<size_t>(n));
    }
    address_ = ServeChildAddressAfter(output, "listening on ");
    metrics_address_ = ServeChildAddressAfter(output, "metrics on ");
    if (!address_.empty() && !metrics_address_.empty()) return absl::OkStatus();
    if (Reaped()) {
      return absl::FailedPreconditionError(
          absl::StrCat("liger serve exited before listening; its log ends:\n", LogTail()));
    }
  }
  return absl::DeadlineExceededError(absl::StrCat("liger serve printed no address within ",
                                                  absl::FormatDuration(timeout),
                                                  "; its log ends:\n", LogTail()));
}

absl::StatusOr<int> ServeChild::Stop(absl::Duration timeout) {
  if (!Reaped()) kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  while (!Reaped()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "liger serve still runs ", absl::FormatDuration(timeout), " after SIGTERM"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kServeChildPollMs));
  }
  if (WIFSIGNALED(wait_status_)) {
    return absl::InternalError(absl::StrCat("liger serve was killed by signal ",
                                            WTERMSIG(wait_status_), "; its log ends:\n",
                                            LogTail()));
  }
  return WEXITSTATUS(wait_status_);
}

bool ServeChild::Reaped() {
  if (!exited_ && waitpid(pid_, &wait_status_, WNOHANG) == pid_) exited_ = true;
  return exited_;
}

std::string ServeChild::LogTail() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string log = contents.str();
  return log.size() <= kServeChildLogTailBytes ? log
                                               : log.substr(log.size() - kServeChildLogTailBytes);
}

}  // namespace liger::bench
