#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace liger {

// Finds stop strings in streamed text. Text is released only once no stop string can begin inside
// it: a suffix that could still grow into a stop string is held back. When a stop string completes,
// the text before it is released and everything from the stop string on is dropped. Cuts fall only
// on UTF-8 character boundaries, so whole-character input gives whole-character output. Among stop
// strings completed by the same input, the one that ends first wins (ties: the one starting first).
class StopMatcher {
 public:
  // Empty stop strings are ignored (callers validate them).
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds generated text; returns the text now safe to release ("" once stopped()).
  std::string Push(std::string_view text);

  // The text has ended: releases what was held back ("" once stopped()).
  std::string Finish();

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace liger
