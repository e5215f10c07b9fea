#include "cli/command_line.h"

#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace liger {

absl::StatusOr<CommandLine> CommandLine::Parse(const std::vector<std::string>& args,
                                               const std::set<std::string>& known,
                                               const std::set<std::string>& switches) {
  CommandLine cl;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (!known.count(name) && !switches.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (switches.count(name)) {
      if (value) return absl::InvalidArgumentError(absl::StrCat("flag --", name, " takes no value"));
      cl.values_.emplace(name, "true");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    cl.values_.emplace(name, *value);
  }
  return cl;
}

absl::StatusOr<std::string> CommandLine::Required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return absl::InvalidArgumentError(absl::StrCat("missing required flag --", name));
  return it->second;
}

std::string CommandLine::String(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<int64_t> CommandLine::Int(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("flag --", name, " expects an integer, got \"",
                                                   it->second, "\""));
  }
  return v;
}

absl::StatusOr<int32_t> CommandLine::Int32(const std::string& name, int32_t fallback) const {
  absl::StatusOr<int64_t> value = Int(name, fallback);
  if (!value.ok()) return value.status();
  if (*value < std::numeric_limits<int32_t>::min() ||
      *value > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, " is out of range, got ", *value));
  }
  return static_cast<int32_t>(*value);
}

absl::StatusOr<std::vector<int64_t>> CommandLine::IntList(const std::string& name) const {
  std::vector<int64_t> values;
  const std::string text = String(name, "");
  if (text.empty()) return values;
  for (absl::string_view piece : absl::StrSplit(text, ',')) {
    int64_t value;
    if (!absl::SimpleAtoi(piece, &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flag --", name, " expects comma-separated integers, got \"", text, "\""));
    }
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<double> CommandLine::Double(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  double v;
  if (!absl::SimpleAtod(it->second, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("flag --", name, " expects a number, got \"",
                                                   it->second, "\""));
  }
  return v;
}

std::vector<std::string> CommandLine::All(const std::string& name) const {
  std::vector<std::string> out;
  auto [lo, hi] = values_.equal_range(name);
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

}  // namespace liger
