#include "core/train/fine_tune.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/convert/staging_directory.h"
#include "core/io/file_util.h"
#include "core/io/sibling_path.h"
#include "core/model/model_loader.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/train/fine_tune_trainer.h"
#include "core/train/fine_tune_validation.h"
#include "core/train/lora_adapters.h"
#include "core/train/packed_sequences.h"
#include "core/train/collective_group.h"
#include "core/train/process_group_collectives.h"
#include "core/train/resume_options.h"
#include "core/train/training_checkpoint.h"
#include "core/train/training_documents.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

std::string FineTunePathTrimmed(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Fails before any training when the run could not publish or would clobber another run's
// checkpoint: the output must not exist, its parent must, and a fresh run must not find a
// checkpoint in the resume directory (which only `resume` may continue; an empty one, left by a
// crash before the first checkpoint was committed, is reused).
absl::Status CheckFineTuneOutput(const FineTuneOptions& options, const std::string& resume_dir) {
  const std::string output = FineTunePathTrimmed(options.output_dir);
  LIGER_ASSIGN_OR_RETURN(bool output_exists, StatIfExists(output, nullptr, StatLinks::kNoFollow));
  if (output_exists) return absl::AlreadyExistsError(absl::StrCat(output, " already exists"));
  LIGER_ASSIGN_OR_RETURN(SiblingPath sibling, SplitSiblingPath(output, "an output directory"));
  struct stat parent;
  LIGER_ASSIGN_OR_RETURN(bool parent_exists, StatIfExists(sibling.dir, &parent));
  if (!parent_exists) {
    return absl::NotFoundError(absl::StrCat("the parent directory ", sibling.dir, " of ", output,
                                            " does not exist"));
  }
  if (!S_ISDIR(parent.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(sibling.dir, " is not a directory"));
  }
  if (!options.resume) {
    LIGER_ASSIGN_OR_RETURN(bool checkpoint_exists, HasTrainingCheckpoint(resume_dir));
    if (checkpoint_exists) {
      return absl::AlreadyExistsError(
          absl::StrCat(resume_dir, " holds the checkpoint of an interrupted run; resume it, or "
                                   "remove it to start over"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PackedSequences> LoadFineTuneData(const std::string& path,
                                                 const Tokenizer& tokenizer,
                                                 int64_t sequence_length) {
  LIGER_ASSIGN_OR_RETURN(std::vector<TrainingDocument> documents,
                         ReadTrainingDocuments(path, tokenizer));
  return PackedSequences::Pack(documents, sequence_length, path);
}

// Writes the merged model and the adapter beside it, publishes them at output_dir and drops the
// resume checkpoint, which the published output supersedes.
absl::Status PublishFineTune(const FineTuneOptions& options, const LoraAdapters& adapters,
                             const std::string& resume_dir) {
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<StagingDirectory> staging,
                         StagingDirectory::Create(options.output_dir));
  LIGER_RETURN_IF_ERROR(WriteMergedModel(options.model_dir, adapters, staging->path()));
  LIGER_RETURN_IF_ERROR(adapters.SaveAdapter(staging->path(), options.model_dir));
  LIGER_RETURN_IF_ERROR(staging->Publish());
  std::error_code ignored;  // a leftover checkpoint only blocks a fresh run of a published output
  std::filesystem::remove_all(resume_dir, ignored);
  return absl::OkStatus();
}

// Everything a run holds while it trains; the trainer refers to the rest.
struct FineTuneRun {
  std::optional<TrainingCheckpoint> checkpoint;
  std::unique_ptr<PackedSequences> train;
  std::unique_ptr<PackedSequences> eval;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<Transformer> teacher;
  std::unique_ptr<LoraAdapters> adapters;
  std::unique_ptr<FineTuneTrainer> trainer;
};

// Validates, loads and restores: everything before the first step, on this rank alone.
absl::Status PrepareFineTune(const FineTuneOptions& options, CollectiveGroup* group,
                             FineTuneRun& run) {
  LIGER_RETURN_IF_ERROR(ValidateFineTuneOptions(options));
  ModelLoadOptions load;
  LIGER_ASSIGN_OR_RETURN(load.dtype, ParseComputeDType(options.dtype));
  LIGER_ASSIGN_OR_RETURN(load.device, ParseDevice(options.device));
  const std::string resume_dir = FineTuneResumeDir(options.output_dir);
  LIGER_RETURN_IF_ERROR(CheckFineTuneOutput(options, resume_dir));
  if (options.resume) {
    LIGER_ASSIGN_OR_RETURN(run.checkpoint, LoadTrainingCheckpoint(resume_dir));
    LIGER_RETURN_IF_ERROR(CheckResumeOptions(run.checkpoint->options, options));
  }
  LIGER_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(options.model_dir));
  LIGER_RETURN_IF_ERROR(ValidateFineTuneModel(options, config));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(options.model_dir));
  LIGER_ASSIGN_OR_RETURN(PackedSequences train,
                         LoadFineTuneData(options.train_data, *tokenizer, options.sequence_length));
  run.train = std::make_unique<PackedSequences>(std::move(train));
  if (!options.eval_data.empty()) {
    LIGER_ASSIGN_OR_RETURN(PackedSequences eval,
                           LoadFineTuneData(options.eval_data, *tokenizer, options.sequence_length));
    run.eval = std::make_unique<PackedSequences>(std::move(eval));
  }
  if (run.checkpoint && run.checkpoint->data_checksum != run.train->Checksum()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "option train_data: ", options.train_data,
        " no longer holds the data the checkpoint being resumed was trained on"));
  }
  LIGER_ASSIGN_OR_RETURN(run.model, LoadModel(options.model_dir, load));
  LIGER_ASSIGN_OR_RETURN(run.adapters, LoraAdapters::Create(run.model->config(), options.lora,
                                                            load.device, options.seed));
  // The teacher shares the model's weight tensors, so it costs no memory but its activations.
  if (options.distill_weight > 0) run.teacher = run.model->WithSoftmaxAttention();
  run.trainer = std::make_unique<FineTuneTrainer>(options, *run.model, run.teacher.get(),
                                                  *run.adapters, *run.train, run.eval.get(), group);
  if (run.checkpoint) return run.trainer->Restore(*run.checkpoint);
  run.trainer->SeedRandomness();
  return absl::OkStatus();
}

// Whether every rank prepared, and from the same step; then rank 0's parameters for all.
absl::Status AgreeToStart(const absl::Status& prepared, int64_t step, CollectiveGroup& group) {
  LIGER_ASSIGN_OR_RETURN(std::vector<double> sums,
                         group.SumAcross({prepared.ok() ? 0.0 : 1.0, static_cast<double>(step),
                                          static_cast<double>(step) * step}));
  LIGER_RETURN_IF_ERROR(prepared);
  if (sums[0] > 0) {
    return AnotherRanksFailure(absl::FailedPreconditionError(absl::StrCat(
        sums[0], " other rank(s) of the run could not start; their logs say why")));
  }
  // Equal steps exactly when the variance over the ranks is zero.
  const double mean = sums[1] / group.world_size();
  if (sums[2] / group.world_size() - mean * mean > 0.5) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ranks would resume from different steps (this one from ", step,
        "): every rank must see the same checkpoint directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FineTuneResult> RunFineTuneUnguarded(
    const FineTuneOptions& options, const FineTuneProgressCallback& on_progress,
    const std::function<bool()>& stop_requested, CollectiveGroup* group) {
  if (group != nullptr && group->world_size() < 2) group = nullptr;
  FineTuneRun run;
  absl::Status prepared = PrepareFineTune(options, group, run);
  if (group == nullptr) {
    LIGER_RETURN_IF_ERROR(prepared);
  } else {
    LIGER_RETURN_IF_ERROR(
        AgreeToStart(prepared, prepared.ok() ? run.trainer->progress().step : -1, *group));
    LIGER_RETURN_IF_ERROR(run.trainer->BroadcastParameters());
  }
  LIGER_RETURN_IF_ERROR(run.trainer->Train(on_progress, stop_requested));
  const bool publishes = group == nullptr || group->rank() == 0;
  absl::Status published = publishes ? PublishFineTune(options, *run.adapters,
                                                       FineTuneResumeDir(options.output_dir))
                                     : absl::OkStatus();
  if (group != nullptr) {
    LIGER_ASSIGN_OR_RETURN(bool failed, group->AnyAcross(!published.ok()));
    if (failed && published.ok()) {
      return AnotherRanksFailure(
          absl::UnavailableError("rank 0 could not publish the output; see its log"));
    }
  }
  LIGER_RETURN_IF_ERROR(published);
  FineTuneResult result;
  result.output_dir = FineTunePathTrimmed(options.output_dir);
  result.final_progress = run.trainer->progress();
  return result;
}

// data_parallel_ranks threads of this process, rank r on cuda:r (or the CPU), meeting in-process.
absl::StatusOr<FineTuneResult> RunFineTuneOnLocalRanks(
    const FineTuneOptions& options, const FineTuneProgressCallback& on_progress,
    const std::function<bool()>& stop_requested) {
  LIGER_RETURN_IF_ERROR(ValidateFineTuneOptions(options));
  const int ranks = options.data_parallel_ranks;
  const bool cuda = options.device == "cuda";
  if (cuda && static_cast<int>(torch::cuda::device_count()) < ranks) {
    return absl::FailedPreconditionError(
        absl::StrCat("option data_parallel_ranks: ", ranks, " ranks need as many GPUs, and this node has ",
                     torch::cuda::device_count()));
  }
  // Checked before any thread waits at the rendezvous for a rank that could not join.
  if (!ProcessGroupCollectives::Supports(cuda ? torch::Device(torch::kCUDA, 0) : torch::kCPU)) {
    return absl::UnimplementedError(absl::StrCat(
        "option data_parallel_ranks: this build of liger has no collective backend for ",
        options.device));
  }
  constexpr std::chrono::seconds kRendezvousTimeout(600);
  auto rendezvous = ProcessGroupCollectives::NewRendezvous(kRendezvousTimeout);
  std::vector<absl::StatusOr<FineTuneResult>> results(ranks, absl::UnknownError("not run"));
  auto run_rank = [&](int rank) {
    FineTuneOptions rank_options = options;
    rank_options.data_parallel_ranks = 1;
    if (cuda) rank_options.device = absl::StrCat("cuda:", rank);
    const torch::Device device =
        cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(rank)) : torch::kCPU;
    absl::StatusOr<std::unique_ptr<CollectiveGroup>> group =
        ProcessGroupCollectives::JoinInProcess(rendezvous, rank, ranks, device, kRendezvousTimeout);
    if (!group.ok()) {
      results[rank] = group.status();
      return;
    }
    results[rank] = RunFineTune(rank_options, rank == 0 ? on_progress : nullptr, stop_requested,
                                group->get());
  };
  std::vector<std::thread> threads;
  for (int rank = 1; rank < ranks; ++rank) threads.emplace_back(run_rank, rank);
  run_rank(0);
  for (std::thread& thread : threads) thread.join();
  // The cause: the first rank whose error does not merely report another's.
  for (const auto& result : results) {
    if (!result.ok() && !IsAnotherRanksFailure(result.status())) return result.status();
  }
  for (const auto& result : results) {
    if (!result.ok()) return result.status();
  }
  return results[0];
}

}  // namespace

absl::StatusOr<bool> HasFineTuneCheckpoint(const std::string& output_dir) {
  return HasTrainingCheckpoint(FineTuneResumeDir(output_dir));
}

std::string FineTuneResumeDir(const std::string& output_dir) {
  return FineTunePathTrimmed(output_dir) + ".resume";
}

absl::StatusOr<FineTuneResult> RunFineTune(const FineTuneOptions& options,
                                           const FineTuneProgressCallback& on_progress,
                                           const std::function<bool()>& stop_requested,
                                           CollectiveGroup* group) {
  try {
    if (group == nullptr && options.data_parallel_ranks > 1) {
      return RunFineTuneOnLocalRanks(options, on_progress, stop_requested);
    }
    return RunFineTuneUnguarded(options, on_progress, stop_requested, group);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("fine-tuning failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<FineTuneResult> RunFineTuneRank(FineTuneOptions options,
                                               const DistributedEnvironment& env,
                                               const FineTuneProgressCallback& on_progress,
                                               const std::function<bool()>& stop_requested) {
  if (!env.distributed()) return RunFineTune(options, on_progress, stop_requested);
  if (options.data_parallel_ranks > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option data_parallel_ranks (", options.data_parallel_ranks,
        ") starts ranks in this process, and WORLD_SIZE=", env.world_size,
        " says this process is one rank of a launched run: use one or the other"));
  }
  if (options.device == "cuda") options.device = absl::StrCat("cuda:", env.local_rank);
  std::unique_ptr<CollectiveGroup> group;
  try {
    LIGER_ASSIGN_OR_RETURN(torch::Device device, ParseDevice(options.device));
    if (device.is_cuda() && device.index() >= static_cast<int>(torch::cuda::device_count())) {
      return absl::FailedPreconditionError(
          absl::StrCat("rank ", env.rank, " would train on ", options.device, " but this node has ",
                       torch::cuda::device_count(), " CUDA device(s)"));
    }
    LIGER_ASSIGN_OR_RETURN(group, ProcessGroupCollectives::Join(env, device));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("joining the run failed: ", e.what_without_backtrace()));
  }
  return RunFineTune(options, on_progress, stop_requested, group.get());
}

}  // namespace liger
