#pragma once

#include <string>
#include <vector>

namespace liger::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when the process did not exit normally (e.g. a signal)
  std::string out;
  std::string err;
};

// Runs a program with arguments (no shell), capturing stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv);

// build/liger, the binary under test.
std::string LigerBinary();

}  // namespace liger::testing
