#include "service/metrics/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/status_macros.h"
#include "service/metrics/validation.h"

namespace liger::metrics {
namespace {

std::vector<std::string> ExposedNames(const MetricFamily& family) {
  if (family.type() != MetricType::kHistogram) return {family.name()};
  return {family.name(), family.name() + "_bucket", family.name() + "_sum",
          family.name() + "_count"};
}

absl::Status ValidateFamily(const MetricFamily& family) {
  if (!IsValidMetricName(family.name())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid metric name \"", family.name(), "\": must match [a-zA-Z_:][a-zA-Z0-9_:]*"));
  }
  if (family.help().empty() || !IsValidUtf8(family.help())) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric ", family.name(), ": help text must be non-empty UTF-8"));
  }
  std::set<std::string> seen;
  for (const std::string& label : family.label_names()) {
    if (!IsValidLabelName(label)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", family.name(), ": invalid label name \"", label,
          "\": must match [a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\""));
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", family.name(), ": label name \"", label, "\" is repeated"));
    }
    if (family.type() == MetricType::kHistogram && label == "le") {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram ", family.name(), ": label name \"le\" is reserved for bucket bounds"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Family<Counter>*> Registry::AddCounter(const std::string& name,
                                                      const std::string& help,
                                                      std::vector<std::string> label_names) {
  auto family = std::make_unique<Family<Counter>>(
      name, help, MetricType::kCounter, std::move(label_names),
      [] { return std::make_unique<Counter>(); });
  Family<Counter>* result = family.get();
  LIGER_RETURN_IF_ERROR(Register(std::move(family)));
  return result;
}

absl::StatusOr<Family<Gauge>*> Registry::AddGauge(const std::string& name, const std::string& help,
                                                  std::vector<std::string> label_names) {
  auto family = std::make_unique<Family<Gauge>>(name, help, MetricType::kGauge,
                                                std::move(label_names),
                                                [] { return std::make_unique<Gauge>(); });
  Family<Gauge>* result = family.get();
  LIGER_RETURN_IF_ERROR(Register(std::move(family)));
  return result;
}

absl::StatusOr<Family<CallbackGauge>*> Registry::AddCallbackGauge(
    const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  auto family = std::make_unique<Family<CallbackGauge>>(
      name, help, MetricType::kGauge, std::move(label_names),
      [] { return std::make_unique<CallbackGauge>(); });
  Family<CallbackGauge>* result = family.get();
  LIGER_RETURN_IF_ERROR(Register(std::move(family)));
  return result;
}

absl::StatusOr<CallbackGauge*> Registry::AddUnlabelledCallbackGauge(const std::string& name,
                                                                    const std::string& help) {
  LIGER_ASSIGN_OR_RETURN(Family<CallbackGauge> * family, AddCallbackGauge(name, help));
  return family->WithLabels({});
}

absl::StatusOr<Family<Histogram>*> Registry::AddHistogram(const std::string& name,
                                                          const std::string& help,
                                                          std::vector<std::string> label_names,
                                                          std::vector<double> bucket_bounds) {
  if (absl::Status s = Histogram::ValidateBounds(bucket_bounds); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("histogram ", name, ": ", s.message()));
  }
  auto family = std::make_unique<Family<Histogram>>(
      name, help, MetricType::kHistogram, std::move(label_names),
      [bounds = std::move(bucket_bounds)] { return std::make_unique<Histogram>(bounds); });
  Family<Histogram>* result = family.get();
  LIGER_RETURN_IF_ERROR(Register(std::move(family)));
  return result;
}

absl::Status Registry::Register(std::unique_ptr<MetricFamily> family) {
  LIGER_RETURN_IF_ERROR(ValidateFamily(*family));
  const std::vector<std::string> names = ExposedNames(*family);
  absl::MutexLock lock(&mu_);
  for (const std::string& name : names) {
    if (taken_names_.count(name) > 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          "cannot register metric ", family->name(), ": the name ", name,
          " is already registered (names exposed: ", absl::StrJoin(names, ", "), ")"));
    }
  }
  taken_names_.insert(names.begin(), names.end());
  const std::string key = family->name();
  families_.emplace(key, std::move(family));
  return absl::OkStatus();
}

std::string Registry::ExpositionText() const {
  // Families are never removed; formatting outside the registry lock lets a CallbackGauge's
  // callback register metrics without deadlocking.
  std::vector<const MetricFamily*> families;
  {
    absl::ReaderMutexLock lock(&mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) families.push_back(family.get());
  }
  std::string out;
  for (const MetricFamily* family : families) family->AppendText(&out);
  return out;
}

}  // namespace liger::metrics
