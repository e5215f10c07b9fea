#pragma once

#include <string>

namespace liger::testing {

// ../shared beside the repository: fixture checkpoints and corpus.
inline std::string SharedDir() { return LIGER_SHARED_DIR; }
inline std::string SourceDir() { return LIGER_SOURCE_DIR; }
inline std::string BinaryDir() { return LIGER_BINARY_DIR; }
inline std::string FixtureModel(const std::string& name) { return SharedDir() + "/models/" + name; }

}  // namespace liger::testing
