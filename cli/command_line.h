#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace liger {

// `--name value` / `--name=value` flags of one subcommand. Unknown flags, missing values and
// malformed numbers are INVALID_ARGUMENT errors that name the flag.
class CommandLine {
 public:
  // args: everything after the subcommand. known: flag names without "--"; names in `switches`
  // take no value.
  static absl::StatusOr<CommandLine> Parse(const std::vector<std::string>& args,
                                           const std::set<std::string>& known,
                                           const std::set<std::string>& switches = {});

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  absl::StatusOr<std::string> Required(const std::string& name) const;
  std::string String(const std::string& name, const std::string& fallback) const;
  absl::StatusOr<int64_t> Int(const std::string& name, int64_t fallback) const;
  // Int, and INVALID_ARGUMENT when the value does not fit in 32 bits.
  absl::StatusOr<int32_t> Int32(const std::string& name, int32_t fallback) const;
  // "--name 0,8,16": the integers in order; none when the flag is absent or empty.
  absl::StatusOr<std::vector<int64_t>> IntList(const std::string& name) const;
  absl::StatusOr<double> Double(const std::string& name, double fallback) const;
  // Every value given for a repeatable flag, in order.
  std::vector<std::string> All(const std::string& name) const;

 private:
  std::multimap<std::string, std::string> values_;
};

}  // namespace liger
