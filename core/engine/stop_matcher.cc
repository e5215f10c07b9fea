#include "core/engine/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace liger {
namespace {

bool IsCharBoundary(std::string_view text, size_t pos) {
  return pos >= text.size() || (static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80;
}

// First occurrence of `stop` in `text` that starts on a character boundary.
size_t FindAtBoundary(std::string_view text, std::string_view stop) {
  for (size_t pos = text.find(stop); pos != std::string_view::npos; pos = text.find(stop, pos + 1)) {
    if (IsCharBoundary(text, pos)) return pos;
  }
  return std::string_view::npos;
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& stop : stops) {
    if (!stop.empty()) stops_.push_back(std::move(stop));
  }
}

std::string StopMatcher::Push(std::string_view text) {
  if (stopped_) return "";
  pending_.append(text);

  size_t best_start = std::string::npos;
  size_t best_end = std::string::npos;
  for (const std::string& stop : stops_) {
    const size_t start = FindAtBoundary(pending_, stop);
    if (start == std::string::npos) continue;
    const size_t end = start + stop.size();
    if (end < best_end || (end == best_end && start < best_start)) {
      best_start = start;
      best_end = end;
    }
  }
  if (best_start != std::string::npos) {
    stopped_ = true;
    std::string released = pending_.substr(0, best_start);
    pending_.clear();
    return released;
  }

  // Hold back the longest suffix that is a proper prefix of some stop string; any earlier start can
  // no longer begin a match.
  size_t longest = 0;
  for (const std::string& stop : stops_) longest = std::max(longest, stop.size());
  size_t hold_from = pending_.size();
  const size_t first = pending_.size() >= longest ? pending_.size() - longest + 1 : 0;
  for (size_t start = first; start < pending_.size(); ++start) {
    if (!IsCharBoundary(pending_, start)) continue;
    const std::string_view suffix = std::string_view(pending_).substr(start);
    const bool could_grow = std::any_of(stops_.begin(), stops_.end(), [&](const std::string& stop) {
      return stop.size() > suffix.size() && std::string_view(stop).substr(0, suffix.size()) == suffix;
    });
    if (could_grow) {
      hold_from = start;
      break;
    }
  }
  std::string released = pending_.substr(0, hold_from);
  pending_.erase(0, hold_from);
  return released;
}

std::string StopMatcher::Finish() {
  if (stopped_) return "";
  return std::exchange(pending_, std::string());
}

}  // namespace liger
