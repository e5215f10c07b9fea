#include "core/hosting/model_registry.h"

#include <algorithm>
#include <exception>
#include <new>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/model_loader.h"
#include "core/model/transformer.h"
#include "core/serving/generation_scheduler.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr size_t kMaxModelNameLength = 128;

// The name ParseComputeDType takes for a dtype it returned.
std::string HostedDTypeName(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat16:
      return "float16";
    default:
      return "float32";
  }
}

// "/a/b/llama3-tiny/" -> "llama3-tiny".
std::string HostedDirBaseName(const std::string& dir) {
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const size_t slash = trimmed.rfind('/');
  return slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
}

// LoadModel turns LibTorch errors into statuses itself; this is the backstop that keeps an
// allocation failure while building the network from taking the whole server down.
absl::StatusOr<std::unique_ptr<Transformer>> LoadTransformerGuarded(
    const std::string& model_dir, const ModelLoadOptions& options) {
  try {
    return LoadModel(model_dir, options);
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of device memory loading ", model_dir, ": ", e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("loading ", model_dir, " failed: ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("out of memory loading ", model_dir));
  }
}

// The same for a name never loaded and another tenant's model, so names reveal nothing.
absl::Status ModelNotFoundError(absl::string_view name) {
  return absl::NotFoundError(
      absl::StrCat("no model named \"", absl::CHexEscape(name), "\" is loaded"));
}

}  // namespace

ModelRegistry::ModelRegistry(std::string default_dtype, std::string default_device,
                             SchedulerObserverFactory observers, SchedulerOptions scheduler)
    : default_dtype_(std::move(default_dtype)),
      default_device_(std::move(default_device)),
      observers_(std::move(observers)),
      scheduler_options_(scheduler) {}

absl::Status ModelRegistry::ValidateModelName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxModelNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model name must have 1 to ", kMaxModelNameLength, " characters, got ", name.size()));
  }
  const bool allowed = std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  if (!allowed || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("model name \"", absl::CHexEscape(name),
                     "\" may only use letters, digits, '.', '_' and '-'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const HostedModel>> ModelRegistry::Load(const ModelLoadSpec& spec) {
  if (spec.model_dir.empty()) return absl::InvalidArgumentError("model directory is empty");
  const std::string name = spec.name.empty() ? HostedDirBaseName(spec.model_dir) : spec.name;
  LIGER_RETURN_IF_ERROR(ValidateModelName(name));
  const ModelKey key(name, spec.tenant);
  {
    absl::MutexLock lock(&mu_);
    LIGER_RETURN_IF_ERROR(CheckNameFreeLocked(name, spec.tenant));
    loading_.insert(key);
  }
  absl::StatusOr<std::shared_ptr<const HostedModel>> loaded = LoadReserved(name, spec);
  absl::MutexLock lock(&mu_);
  loading_.erase(key);
  if (loaded.ok()) models_.emplace(key, *loaded);
  return loaded;
}

absl::Status ModelRegistry::CheckNameFreeLocked(const std::string& name,
                                                const std::string& tenant) const {
  // The tenant's own name and a shared one clash; so does a shared name with any tenant's, which
  // it would hide. Other tenants' names do not exist for this one.
  const auto clashes = [&](const std::string& owner) {
    return tenant.empty() || owner.empty() || owner == tenant;
  };
  const auto taken = [&](absl::string_view state) {
    return absl::AlreadyExistsError(
        absl::StrCat("a model named \"", name, "\" is already ", state));
  };
  for (auto it = models_.lower_bound({name, ""}); it != models_.end() && it->first.first == name;
       ++it) {
    if (clashes(it->first.second)) return taken("loaded");
  }
  for (auto it = loading_.lower_bound({name, ""}); it != loading_.end() && it->first == name;
       ++it) {
    if (clashes(it->second)) return taken("loading");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const HostedModel>> ModelRegistry::LoadReserved(
    const std::string& name, const ModelLoadSpec& spec) const {
  ModelLoadOptions options;
  LIGER_ASSIGN_OR_RETURN(options.dtype,
                         ParseComputeDType(spec.dtype.empty() ? default_dtype_ : spec.dtype));
  LIGER_ASSIGN_OR_RETURN(options.device,
                         ParseDevice(spec.device.empty() ? default_device_ : spec.device));
  // The tokenizer first: it is quick and its errors (a missing directory) are the clearest.
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(spec.model_dir));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model,
                         LoadTransformerGuarded(spec.model_dir, options));
  auto hosted = std::make_shared<HostedModel>();
  hosted->name = name;
  hosted->tenant = spec.tenant;
  hosted->model_dir = spec.model_dir;
  hosted->dtype = HostedDTypeName(options.dtype);
  hosted->device = options.device.str();
  hosted->loaded_at = absl::Now();
  hosted->config = model->config();
  hosted->model = std::move(model);
  hosted->tokenizer = std::move(tokenizer);
  LIGER_ASSIGN_OR_RETURN(
      hosted->scheduler,
      GenerationScheduler::Create(*hosted->model, *hosted->tokenizer, name, scheduler_options_,
                                  observers_ ? observers_(name) : nullptr));
  return std::shared_ptr<const HostedModel>(std::move(hosted));
}

absl::Status ModelRegistry::Unload(absl::string_view name, const std::string& tenant) {
  std::shared_ptr<const HostedModel> removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find({std::string(name), tenant});
    if (it == models_.end()) {
      if (models_.count({std::string(name), ""}) > 0) {
        return absl::PermissionDeniedError(absl::StrCat(
            "model \"", name, "\" is the server's, shared by every tenant; only its operator can "
            "unload it"));
      }
      return ModelNotFoundError(name);
    }
    removed = std::move(it->second);
    models_.erase(it);
  }
  // Outside the lock: running generations may take a while to finish. `removed` may hold the last
  // reference, so the model is freed here too.
  removed->scheduler->Shutdown(absl::InfiniteDuration());
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const HostedModel>> ModelRegistry::Find(
    absl::string_view name, const std::string& tenant) const {
  if (name.empty()) {
    std::vector<std::shared_ptr<const HostedModel>> visible = List(tenant);
    if (visible.size() == 1) return visible.front();
    if (visible.empty()) return absl::FailedPreconditionError("no model is loaded");
    std::vector<std::string> names;
    for (const auto& model : visible) names.push_back(model->name);
    return absl::InvalidArgumentError(
        absl::StrCat("several models are loaded (", absl::StrJoin(names, ", "), "); name one"));
  }
  absl::ReaderMutexLock lock(&mu_);
  for (const std::string& owner : {tenant, std::string()}) {
    if (auto it = models_.find({std::string(name), owner}); it != models_.end()) {
      return it->second;
    }
  }
  return ModelNotFoundError(name);
}

std::vector<std::shared_ptr<const HostedModel>> ModelRegistry::List(
    const std::string& tenant) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::shared_ptr<const HostedModel>> models;
  for (const auto& [key, model] : models_) {
    if (key.second.empty() || key.second == tenant) models.push_back(model);
  }
  return models;
}

std::vector<std::shared_ptr<const HostedModel>> ModelRegistry::ListAll() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::shared_ptr<const HostedModel>> models;
  models.reserve(models_.size());
  for (const auto& entry : models_) models.push_back(entry.second);
  return models;
}

size_t ModelRegistry::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return models_.size();
}

}  // namespace liger
