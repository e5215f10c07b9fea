#include "service/job_translation.h"

#include <cstdint>
#include <limits>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "service/model_translation.h"

namespace liger::service {
namespace {

google::protobuf::Timestamp JobTimestamp(absl::Time time) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

}  // namespace

absl::StatusOr<FineTuneOptions> FineTuneOptionsFromProto(const v1::FineTuneRequest& request,
                                                         const std::string& default_dtype,
                                                         const std::string& default_device) {
  FineTuneOptions options;
  options.model_dir = request.model_dir();
  options.output_dir = request.output_dir();
  options.train_data = request.train_data();
  options.eval_data = request.eval_data();
  const v1::LoraOptions& lora = request.lora();
  options.lora.rank = lora.has_rank() ? lora.rank() : 8;
  options.lora.alpha = lora.has_alpha() ? lora.alpha() : 8.0;
  if (lora.target_modules_size() > 0) {
    options.lora.target_modules.assign(lora.target_modules().begin(), lora.target_modules().end());
  } else {
    options.lora.target_modules = {"q_proj", "k_proj", "v_proj"};
  }
  options.lora.dropout = lora.dropout();
  options.learning_rate = request.has_learning_rate() ? request.learning_rate() : 1e-3;
  switch (request.schedule()) {
    case v1::LEARNING_RATE_SCHEDULE_UNSPECIFIED:
    case v1::LEARNING_RATE_SCHEDULE_CONSTANT:
      options.schedule = LearningRateSchedule::kConstant;
      break;
    case v1::LEARNING_RATE_SCHEDULE_COSINE:
      options.schedule = LearningRateSchedule::kCosine;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown learning-rate schedule value ", request.schedule()));
  }
  options.warmup_steps = request.warmup_steps();
  options.save_every_steps = request.save_every_steps();
  options.epochs = request.has_epochs() ? request.epochs() : 2;
  options.max_steps = request.max_steps();
  options.micro_batch_size = request.has_micro_batch_size() ? request.micro_batch_size() : 1;
  options.gradient_accumulation_steps =
      request.has_gradient_accumulation_steps() ? request.gradient_accumulation_steps() : 8;
  options.sequence_length = request.has_sequence_length() ? request.sequence_length() : 1024;
  options.eval_every_steps = request.eval_every_steps();
  LIGER_ASSIGN_OR_RETURN(std::string dtype, DTypeNameFromProto(request.dtype()));
  options.dtype = dtype.empty() ? default_dtype : dtype;
  options.device = request.device().empty() ? default_device : request.device();
  options.distill_weight = request.distill_weight();
  options.activation_checkpointing = request.activation_checkpointing();
  if (request.data_parallel_ranks() != 0) options.data_parallel_ranks = request.data_parallel_ranks();
  options.seed = request.seed();
  if (options.seed == 0) {
    absl::BitGen random;
    options.seed = absl::Uniform<uint64_t>(absl::IntervalClosed, random, 1,
                                           std::numeric_limits<uint64_t>::max());
  }
  return options;
}

void FineTuneOptionsToProto(const FineTuneOptions& options, v1::FineTuneRequest* request) {
  request->set_model_dir(options.model_dir);
  request->set_output_dir(options.output_dir);
  request->set_train_data(options.train_data);
  request->set_eval_data(options.eval_data);
  v1::LoraOptions* lora = request->mutable_lora();
  lora->set_rank(options.lora.rank);
  lora->set_alpha(static_cast<float>(options.lora.alpha));
  for (const std::string& name : options.lora.target_modules) lora->add_target_modules(name);
  lora->set_dropout(static_cast<float>(options.lora.dropout));
  request->set_learning_rate(options.learning_rate);
  request->set_schedule(options.schedule == LearningRateSchedule::kCosine
                            ? v1::LEARNING_RATE_SCHEDULE_COSINE
                            : v1::LEARNING_RATE_SCHEDULE_CONSTANT);
  request->set_warmup_steps(options.warmup_steps);
  request->set_save_every_steps(options.save_every_steps);
  request->set_epochs(options.epochs);
  request->set_max_steps(options.max_steps);
  request->set_micro_batch_size(options.micro_batch_size);
  request->set_gradient_accumulation_steps(options.gradient_accumulation_steps);
  request->set_sequence_length(options.sequence_length);
  request->set_eval_every_steps(options.eval_every_steps);
  request->set_dtype(DTypeToProto(options.dtype));
  request->set_device(options.device);
  request->set_seed(options.seed);
  request->set_distill_weight(options.distill_weight);
  request->set_activation_checkpointing(options.activation_checkpointing);
  if (options.data_parallel_ranks > 1) request->set_data_parallel_ranks(options.data_parallel_ranks);
}

v1::JobState JobStateToProto(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return v1::JOB_STATE_QUEUED;
    case JobState::kRunning:
      return v1::JOB_STATE_RUNNING;
    case JobState::kSucceeded:
      return v1::JOB_STATE_SUCCEEDED;
    case JobState::kFailed:
      return v1::JOB_STATE_FAILED;
    case JobState::kCancelled:
      return v1::JOB_STATE_CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

absl::StatusOr<std::optional<JobState>> JobStateFilterFromProto(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_UNSPECIFIED:
      return std::optional<JobState>();
    case v1::JOB_STATE_QUEUED:
      return std::optional<JobState>(JobState::kQueued);
    case v1::JOB_STATE_RUNNING:
      return std::optional<JobState>(JobState::kRunning);
    case v1::JOB_STATE_SUCCEEDED:
      return std::optional<JobState>(JobState::kSucceeded);
    case v1::JOB_STATE_FAILED:
      return std::optional<JobState>(JobState::kFailed);
    case v1::JOB_STATE_CANCELLED:
      return std::optional<JobState>(JobState::kCancelled);
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown job state value ", state));
  }
}

void JobSnapshotToProto(const JobSnapshot& job, v1::Job* proto) {
  proto->set_job_id(job.id);
  proto->set_state(JobStateToProto(job.state));
  FineTuneOptionsToProto(job.options, proto->mutable_request());
  v1::JobProgress* progress = proto->mutable_progress();
  progress->set_step(job.progress.step);
  progress->set_total_steps(job.progress.total_steps);
  progress->set_epoch(job.progress.epoch);
  progress->set_loss(job.progress.loss);
  progress->set_learning_rate(job.progress.learning_rate);
  progress->set_tokens_per_second(job.progress.tokens_per_second);
  progress->set_tokens_processed(job.progress.tokens_processed);
  if (job.progress.eval_perplexity.has_value()) {
    progress->set_eval_perplexity(*job.progress.eval_perplexity);
  }
  if (job.progress.distill_kl.has_value()) progress->set_distill_kl(*job.progress.distill_kl);
  *proto->mutable_created_at() = JobTimestamp(job.created_at);
  if (job.started_at.has_value()) *proto->mutable_started_at() = JobTimestamp(*job.started_at);
  if (job.finished_at.has_value()) *proto->mutable_finished_at() = JobTimestamp(*job.finished_at);
  proto->set_error_message(job.error_message);
}

}  // namespace liger::service
