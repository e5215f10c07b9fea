#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace liger::testing {

struct TokenizerCase {
  int line;
  std::string text;
  std::vector<int32_t> ids;
  std::string decoded;
};

// Reads a fixture's tokenizer-cases.jsonl (text, ids, decoded per line).
inline std::vector<TokenizerCase> ReadTokenizerCases(const std::string& path) {
  std::vector<TokenizerCase> cases;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    cases.push_back({number, j.at("text").get<std::string>(),
                     j.at("ids").get<std::vector<int32_t>>(), j.at("decoded").get<std::string>()});
  }
  return cases;
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace liger::testing
