#include "core/jobs/job_record_json.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr int kJobRecordVersion = 1;

// JSON has no NaN or infinity (a diverged loss); they are written as null.
nlohmann::ordered_json JobRecordNumber(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

double JobRecordDouble(const nlohmann::json& value) {
  return value.is_null() ? std::numeric_limits<double>::quiet_NaN() : value.get<double>();
}

std::string JobRecordTime(absl::Time time) {
  return absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone());
}

absl::Time ParseJobRecordTime(const nlohmann::json& value) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, value.get<std::string>(), &time, &error)) {
    throw std::invalid_argument(absl::StrCat("bad timestamp: ", error));
  }
  return time;
}

nlohmann::ordered_json OptionsToJson(const FineTuneOptions& o) {
  return {{"model_dir", o.model_dir},
          {"output_dir", o.output_dir},
          {"train_data", o.train_data},
          {"eval_data", o.eval_data},
          {"lora",
           {{"rank", o.lora.rank},
            {"alpha", o.lora.alpha},
            {"dropout", o.lora.dropout},
            {"target_modules", o.lora.target_modules}}},
          {"learning_rate", o.learning_rate},
          {"schedule", o.schedule == LearningRateSchedule::kCosine ? "cosine" : "constant"},
          {"warmup_steps", o.warmup_steps},
          {"adam_beta1", o.adam_beta1},
          {"adam_beta2", o.adam_beta2},
          {"weight_decay", o.weight_decay},
          {"max_grad_norm", o.max_grad_norm},
          {"epochs", o.epochs},
          {"max_steps", o.max_steps},
          {"micro_batch_size", o.micro_batch_size},
          {"gradient_accumulation_steps", o.gradient_accumulation_steps},
          {"sequence_length", o.sequence_length},
          {"eval_every_steps", o.eval_every_steps},
          {"save_every_steps", o.save_every_steps},
          {"dtype", o.dtype},
          {"device", o.device},
          {"seed", o.seed},
          {"distill_weight", o.distill_weight},
          {"activation_checkpointing", o.activation_checkpointing},
          {"data_parallel_ranks", o.data_parallel_ranks},
          {"resume", o.resume}};
}

FineTuneOptions OptionsFromJson(const nlohmann::json& j) {
  FineTuneOptions o;
  o.model_dir = j.at("model_dir").get<std::string>();
  o.output_dir = j.at("output_dir").get<std::string>();
  o.train_data = j.at("train_data").get<std::string>();
  o.eval_data = j.at("eval_data").get<std::string>();
  const nlohmann::json& lora = j.at("lora");
  o.lora.rank = lora.at("rank").get<int32_t>();
  o.lora.alpha = lora.at("alpha").get<double>();
  o.lora.dropout = lora.at("dropout").get<double>();
  o.lora.target_modules = lora.at("target_modules").get<std::vector<std::string>>();
  o.learning_rate = j.at("learning_rate").get<double>();
  const std::string schedule = j.at("schedule").get<std::string>();
  if (schedule != "constant" && schedule != "cosine") {
    throw std::invalid_argument(absl::StrCat("unknown schedule \"", schedule, "\""));
  }
  o.schedule =
      schedule == "cosine" ? LearningRateSchedule::kCosine : LearningRateSchedule::kConstant;
  o.warmup_steps = j.at("warmup_steps").get<int64_t>();
  o.adam_beta1 = j.at("adam_beta1").get<double>();
  o.adam_beta2 = j.at("adam_beta2").get<double>();
  o.weight_decay = j.at("weight_decay").get<double>();
  o.max_grad_norm = j.at("max_grad_norm").get<double>();
  o.epochs = j.at("epochs").get<int32_t>();
  o.max_steps = j.at("max_steps").get<int64_t>();
  o.micro_batch_size = j.at("micro_batch_size").get<int32_t>();
  o.gradient_accumulation_steps = j.at("gradient_accumulation_steps").get<int32_t>();
  o.sequence_length = j.at("sequence_length").get<int32_t>();
  o.eval_every_steps = j.at("eval_every_steps").get<int64_t>();
  o.save_every_steps = j.at("save_every_steps").get<int64_t>();
  o.dtype = j.at("dtype").get<std::string>();
  o.device = j.at("device").get<std::string>();
  o.seed = j.at("seed").get<uint64_t>();
  // Records written before distillation existed lack it: they trained without.
  if (j.contains("distill_weight")) o.distill_weight = j.at("distill_weight").get<double>();
  if (j.contains("data_parallel_ranks")) {
    o.data_parallel_ranks = j.at("data_parallel_ranks").get<int32_t>();
  }
  if (j.contains("activation_checkpointing")) {
    o.activation_checkpointing = j.at("activation_checkpointing").get<bool>();
  }
  o.resume = j.at("resume").get<bool>();
  return o;
}

nlohmann::ordered_json ProgressToJson(const FineTuneProgress& p) {
  nlohmann::ordered_json json = {{"step", p.step},
                                 {"total_steps", p.total_steps},
                                 {"epoch", p.epoch},
                                 {"loss", JobRecordNumber(p.loss)},
                                 {"learning_rate", JobRecordNumber(p.learning_rate)},
                                 {"tokens_per_second", JobRecordNumber(p.tokens_per_second)},
                                 {"tokens_processed", p.tokens_processed}};
  if (p.eval_perplexity.has_value()) {
    json["eval_perplexity"] = JobRecordNumber(*p.eval_perplexity);
  }
  if (p.distill_kl.has_value()) json["distill_kl"] = JobRecordNumber(*p.distill_kl);
  return json;
}

FineTuneProgress ProgressFromJson(const nlohmann::json& j) {
  FineTuneProgress p;
  p.step = j.at("step").get<int64_t>();
  p.total_steps = j.at("total_steps").get<int64_t>();
  p.epoch = j.at("epoch").get<int32_t>();
  p.loss = JobRecordDouble(j.at("loss"));
  p.learning_rate = JobRecordDouble(j.at("learning_rate"));
  p.tokens_per_second = JobRecordDouble(j.at("tokens_per_second"));
  p.tokens_processed = j.at("tokens_processed").get<int64_t>();
  if (j.contains("eval_perplexity")) p.eval_perplexity = JobRecordDouble(j.at("eval_perplexity"));
  if (j.contains("distill_kl")) p.distill_kl = JobRecordDouble(j.at("distill_kl"));
  return p;
}

JobSnapshot SnapshotFromJson(const nlohmann::json& json) {
  if (json.at("version").get<int>() != kJobRecordVersion) {
    throw std::invalid_argument(absl::StrCat("unsupported version ", json.at("version").dump()));
  }
  JobSnapshot job;
  job.id = json.at("id").get<std::string>();
  if (job.id.empty()) throw std::invalid_argument("empty id");
  absl::StatusOr<JobState> state = ParseJobState(json.at("state").get<std::string>());
  if (!state.ok()) throw std::invalid_argument(std::string(state.status().message()));
  job.state = *state;
  job.options = OptionsFromJson(json.at("options"));
  job.progress = ProgressFromJson(json.at("progress"));
  job.created_at = ParseJobRecordTime(json.at("created_at"));
  if (json.contains("started_at")) job.started_at = ParseJobRecordTime(json.at("started_at"));
  if (json.contains("finished_at")) job.finished_at = ParseJobRecordTime(json.at("finished_at"));
  job.error_message = json.at("error_message").get<std::string>();
  // Records written before tenants existed have none: the unauthenticated tenant's.
  if (json.contains("tenant")) job.tenant = json.at("tenant").get<std::string>();
  return job;
}

}  // namespace

nlohmann::ordered_json JobSnapshotToJson(const JobSnapshot& job) {
  nlohmann::ordered_json json = {{"version", kJobRecordVersion},
                                 {"id", job.id},
                                 {"state", JobStateName(job.state)},
                                 {"options", OptionsToJson(job.options)},
                                 {"progress", ProgressToJson(job.progress)},
                                 {"created_at", JobRecordTime(job.created_at)}};
  if (job.started_at.has_value()) json["started_at"] = JobRecordTime(*job.started_at);
  if (job.finished_at.has_value()) json["finished_at"] = JobRecordTime(*job.finished_at);
  json["error_message"] = job.error_message;
  if (!job.tenant.empty()) json["tenant"] = job.tenant;
  return json;
}

absl::StatusOr<JobSnapshot> JobSnapshotFromJson(const nlohmann::json& json,
                                                const std::string& context) {
  // nlohmann reports missing keys and wrong types by throwing; the parsers
  // above add their own checks the same way, so one handler turns all of them
  // into DATA_LOSS.
  try {
    return SnapshotFromJson(json);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(context, ": not a valid job record: ", e.what()));
  }
}

}  // namespace liger
