#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/hosting/hosted_model.h"
#include "core/serving/generation_scheduler.h"
#include "core/serving/scheduler_observer.h"

namespace liger {

// What to load: a checkpoint directory, under a name, in a dtype on a device, for a tenant.
struct ModelLoadSpec {
  std::string name;       // empty: the base name of model_dir
  std::string model_dir;  // config.json, safetensors and a tokenizer
  std::string dtype;      // empty: the registry's default
  std::string device;     // empty: the registry's default
  std::string tenant;     // the owner (HostedModel::tenant); empty: shared by every tenant
};

// The observer for the scheduler of the model named `model` (null: none). Observers must outlive
// the registry.
using SchedulerObserverFactory = std::function<SchedulerObserver*(const std::string& model)>;

// The models a server holds, by name, each with the GenerationScheduler that batches its requests.
// A model belongs to the tenant that loaded it and exists only for that tenant, as sessions and
// jobs do (any other gets NOT_FOUND, as for a name never loaded, and may load its own model under
// the same name); models of the empty tenant (the server's) are shared by every tenant. Thread-safe.
// Loading runs outside the lock (it reads whole checkpoints), with the name reserved meanwhile so
// that a concurrent load of the same name fails at once instead of loading twice.
class ModelRegistry {
 public:
  // `default_dtype` and `default_device` (as ParseComputeDType and ParseDevice take them) apply to
  // specs that leave theirs empty.
  // `observers` may be empty; `scheduler` configures every model's GenerationScheduler.
  ModelRegistry(std::string default_dtype, std::string default_device,
                SchedulerObserverFactory observers = nullptr, SchedulerOptions scheduler = {});
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // Model names: 1 to 128 characters from [A-Za-z0-9._-], not "." or "..". INVALID_ARGUMENT
  // otherwise.
  static absl::Status ValidateModelName(absl::string_view name);

  // Loads the checkpoint and its tokenizer, starts its scheduler and publishes them under the
  // name. Errors:
  // INVALID_ARGUMENT for a bad name, dtype or device, or a malformed checkpoint; ALREADY_EXISTS
  // when the name is loaded or loading for the tenant or shared (or, for a shared model, for any
  // tenant); NOT_FOUND for a missing directory or file;
  // FAILED_PRECONDITION for CUDA on a machine without it; RESOURCE_EXHAUSTED when memory runs out.
  absl::StatusOr<std::shared_ptr<const HostedModel>> Load(const ModelLoadSpec& spec);

  // Removes the tenant's model and shuts its scheduler down: queued and running requests finish
  // first (so this waits for them), new ones get UNAVAILABLE. NOT_FOUND if the tenant has no such
  // model; PERMISSION_DENIED for a shared model asked by a tenant (only the server's own calls,
  // the empty tenant, unload those).
  absl::Status Unload(absl::string_view name, const std::string& tenant = "");

  // The model of that name the tenant sees: its own, else a shared one (NOT_FOUND if none). An
  // empty name means the only model the tenant sees: FAILED_PRECONDITION when it sees none,
  // INVALID_ARGUMENT when several.
  absl::StatusOr<std::shared_ptr<const HostedModel>> Find(absl::string_view name,
                                                          const std::string& tenant = "") const;

  // The models the tenant sees, ordered by name.
  std::vector<std::shared_ptr<const HostedModel>> List(const std::string& tenant = "") const;
  // Every loaded model, of every tenant.
  std::vector<std::shared_ptr<const HostedModel>> ListAll() const;
  size_t size() const;

 private:
  // Load with the name already reserved.
  absl::StatusOr<std::shared_ptr<const HostedModel>> LoadReserved(const std::string& name,
                                                                  const ModelLoadSpec& spec) const;
  // Why `tenant` may not load `name` now (ALREADY_EXISTS), or OK.
  absl::Status CheckNameFreeLocked(const std::string& name, const std::string& tenant) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Models and names being loaded are keyed by (name, tenant).
  using ModelKey = std::pair<std::string, std::string>;

  const std::string default_dtype_;
  const std::string default_device_;
  const SchedulerObserverFactory observers_;
  const SchedulerOptions scheduler_options_;
  mutable absl::Mutex mu_;
  std::map<ModelKey, std::shared_ptr<const HostedModel>> models_ ABSL_GUARDED_BY(mu_);
  std::set<ModelKey> loading_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger
