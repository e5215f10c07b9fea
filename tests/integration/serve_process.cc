#include "tests/integration/serve_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/integration/command_runner.h"

namespace liger::testing {
namespace {

constexpr auto kServePollInterval = std::chrono::milliseconds(20);

std::string ReadServeOutputFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The address after `prefix` on a complete line of `output`, or "" when there is none yet.
std::string AddressAfter(const std::string& output, absl::string_view prefix) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, prefix)) return std::string(line);
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServeProcess>> ServeProcess::Start(
    const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> argv = {LigerBinary(), "serve"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  const std::string stdout_path = dir + "/serve.stdout";
  const std::string stderr_path = dir + "/serve.stderr";
  const int out_fd = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create output files in ", dir));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    close_range(3, ~0U, 0);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  const int fork_errno = errno;
  close(out_fd);
  close(err_fd);
  close(null_fd);
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(fork_errno)));
  return std::unique_ptr<ServeProcess>(new ServeProcess(pid, stdout_path, stderr_path));
}

ServeProcess::~ServeProcess() {
  if (HasExited()) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, &wait_status_, 0);
}

bool ServeProcess::HasExited() {
  if (!exited_ && waitpid(pid_, &wait_status_, WNOHANG) == pid_) exited_ = true;
  return exited_;
}

absl::Status ServeProcess::WaitUntilListening(absl::Duration timeout, bool expect_metrics) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const std::string output = Stdout();
    address_ = AddressAfter(output, "listening on ");
    metrics_address_ = AddressAfter(output, "metrics on ");
    if (!address_.empty() && (!expect_metrics || !metrics_address_.empty())) {
      return absl::OkStatus();
    }
    if (HasExited()) {
      return absl::FailedPreconditionError(
          absl::StrCat("liger serve exited early; stdout:\n", output, "\nstderr:\n", Stderr()));
    }
    std::this_thread::sleep_for(kServePollInterval);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("liger serve printed no address in time; stderr:\n", Stderr()));
}

void ServeProcess::Signal(int signal_number) {
  if (!HasExited()) kill(pid_, signal_number);
}

absl::StatusOr<int> ServeProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!HasExited()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "liger serve still runs after ", absl::FormatDuration(timeout), "; stderr:\n", Stderr()));
    }
    std::this_thread::sleep_for(kServePollInterval);
  }
  if (WIFSIGNALED(wait_status_)) {
    return absl::InternalError(absl::StrCat("liger serve was killed by signal ",
                                            WTERMSIG(wait_status_), "; stderr:\n", Stderr()));
  }
  return WEXITSTATUS(wait_status_);
}

std::string ServeProcess::Stdout() const { return ReadServeOutputFile(stdout_path_); }
std::string ServeProcess::Stderr() const { return ReadServeOutputFile(stderr_path_); }

}  // namespace liger::testing
