#pragma once

#include <cstdint>
#include <filesystem>
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

// A new directory for the running test, "<temp dir>/<prefix>-<pid>-<test name>"; the fixture
// removes it in TearDown.
std::filesystem::path MakeTestScratchDir(const std::string& prefix);

// The ids `liger tokenize` prints ("[1, 2, 3]"); a test failure when `printed` is not such a list.
std::vector<int32_t> ParsePrintedIds(const std::string& printed);

}  // namespace liger::testing
