#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "service/metrics/text_format.h"
#include "service/metrics/validation.h"

namespace liger::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// "counter", "gauge" or "histogram", as written after "# TYPE".
absl::string_view MetricTypeName(MetricType type);

// A named metric with help text, a type and fixed label names; its children, one per tuple of
// label values, hold the numbers. The registry owns families and keeps them for its lifetime.
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names);
  virtual ~MetricFamily() = default;
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends "# HELP", "# TYPE" and the samples of every child, ordered by label values.
  void AppendText(std::string* out) const;

 protected:
  virtual void AppendSamples(std::string* out) const = 0;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// A family whose children are of type T (Counter, Gauge, CallbackGauge or Histogram). Children are
// never removed, so the pointers WithLabels returns stay valid as long as the registry.
template <typename T>
class Family final : public MetricFamily {
 public:
  using ChildFactory = std::function<std::unique_ptr<T>()>;

  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         ChildFactory new_child)
      : MetricFamily(std::move(name), std::move(help), type, std::move(label_names)),
        new_child_(std::move(new_child)) {
    // An unlabelled metric is exported (as zero) from the start rather than after its first use.
    if (label_names_size() == 0) children_.emplace(std::vector<std::string>(), new_child_());
  }

  // The child for `label_values` (one per label name, in order), created on first use. The lookup
  // takes a lock and compares strings, so hot paths should call it once and keep the pointer.
  // INVALID_ARGUMENT when the number of values is wrong or a value is not UTF-8.
  absl::StatusOr<T*> WithLabels(const std::vector<std::string>& label_values) {
    if (label_values.size() != label_names_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", name(), " has ", label_names_size(), " label(s), but ", label_values.size(),
          " value(s) were given"));
    }
    for (const std::string& value : label_values) {
      if (!IsValidUtf8(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("metric ", name(), ": label value is not valid UTF-8"));
      }
    }
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = children_.find(label_values);
      if (it != children_.end()) return it->second.get();
    }
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = children_.try_emplace(label_values);
    if (inserted) it->second = new_child_();
    return it->second.get();
  }

 private:
  size_t label_names_size() const { return label_names().size(); }

  void AppendSamples(std::string* out) const override {
    // Snapshot under the lock, format outside it: a CallbackGauge's callback then runs with no
    // family lock held and may itself create children. Map nodes are never erased, so the
    // pointers stay valid.
    std::vector<std::pair<const std::vector<std::string>*, const T*>> children;
    {
      absl::ReaderMutexLock lock(&mu_);
      children.reserve(children_.size());
      for (const auto& [values, child] : children_) children.emplace_back(&values, child.get());
    }
    for (const auto& [values, child] : children) {
      child->AppendSamples(name(), FormatLabels(label_names(), *values), out);
    }
  }

  const ChildFactory new_child_;
  mutable absl::Mutex mu_;
  // std::map orders children by label values, which makes the exposition deterministic.
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger::metrics
