#include "core/train/fine_tune_trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/train/distillation_kl.h"
#include "core/train/epoch_order.h"
#include "core/train/resume_options.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

int64_t TrainerTotalSteps(const FineTuneOptions& options, int64_t steps_per_epoch) {
  int64_t total = options.epochs > 0 ? steps_per_epoch * options.epochs : options.max_steps;
  if (options.max_steps > 0) total = std::min(total, options.max_steps);
  return total;
}

// LoRA dropout draws from the default generators, so they are part of the resumable state.
at::Generator TrainerGenerator(torch::Device device) {
  return device.is_cpu() ? at::detail::getDefaultCPUGenerator()
                         : at::globalContext().defaultGenerator(device);
}

torch::Tensor TrainerGeneratorState(torch::Device device) {
  at::Generator generator = TrainerGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetTrainerGeneratorState(torch::Device device, const torch::Tensor& state) {
  at::Generator generator = TrainerGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// Seeds the CPU generator and `device`'s, which LoRA dropout draws from.
void SeedTrainerGenerators(torch::Device device, uint64_t seed) {
  for (torch::Device each : {torch::Device(torch::kCPU), device}) {
    at::Generator generator = TrainerGenerator(each);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_current_seed(seed);
  }
}

using TrainerOptimizerStateKey = std::decay_t<
    decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

// The key under which torch::optim keeps a parameter's state is its TensorImpl's address, printed
// as a string in LibTorch 1.x and the pointer itself in 2.x; the overload picks by key type.
[[maybe_unused]] std::string OptimizerStateKeyOf(const torch::Tensor& parameter,
                                                 std::string* /*type*/) {
  std::ostringstream key;
  key << parameter.unsafeGetTensorImpl();
  return key.str();
}
[[maybe_unused]] void* OptimizerStateKeyOf(const torch::Tensor& parameter, void** /*type*/) {
  return parameter.unsafeGetTensorImpl();
}
TrainerOptimizerStateKey OptimizerStateKey(const torch::Tensor& parameter) {
  return OptimizerStateKeyOf(parameter, static_cast<TrainerOptimizerStateKey*>(nullptr));
}

// LoRA gradients are small (megabytes for a 1B model): small buckets let the first all-reduce
// start early in the backward pass.
constexpr int64_t kGradientBucketBytes = int64_t{1} << 20;

}  // namespace

FineTuneTrainer::FineTuneTrainer(const FineTuneOptions& options, const Transformer& model,
                                 const Transformer* teacher, LoraAdapters& adapters,
                                 const PackedSequences& train, const PackedSequences* eval,
                                 CollectiveGroup* group)
    : options_(options),
      model_(model),
      teacher_(options.distill_weight > 0 ? teacher : nullptr),
      adapters_(adapters),
      train_(train),
      eval_(eval),
      group_(group != nullptr && group->world_size() > 1 ? group : nullptr),
      device_(model.device()),
      parameters_(adapters.NamedParameters()),
      steps_per_epoch_((train.size() + static_cast<int64_t>(options.micro_batch_size) *
                                           options.gradient_accumulation_steps - 1) /
                       (static_cast<int64_t>(options.micro_batch_size) *
                        options.gradient_accumulation_steps)),
      total_steps_(TrainerTotalSteps(options, steps_per_epoch_)),
      learning_rate_(options.learning_rate, options.schedule, options.warmup_steps, total_steps_) {
  std::vector<torch::Tensor> tensors;
  for (const auto& named : parameters_) tensors.push_back(named.second);
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      tensors, torch::optim::AdamWOptions(options.learning_rate)
                   .betas(std::make_tuple(options.adam_beta1, options.adam_beta2))
                   .weight_decay(options.weight_decay));
  if (group_ != nullptr) {
    gradient_buckets_ = std::make_unique<GradientBuckets>(tensors, *group_, kGradientBucketBytes);
  }
  order_ = EpochOrder(train_.size(), options_.seed, epoch_);
  progress_.total_steps = total_steps_;
}

void FineTuneTrainer::SeedRandomness() {
  SeedTrainerGenerators(device_, options_.seed);
  CaptureRandomness();
}

void FineTuneTrainer::SeedRandomnessForStep() {
  // splitmix64 of (seed, rank, step): distinct, well-mixed streams per rank and step.
  uint64_t mixed = options_.seed + 0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(progress_.step) *
                                                             65537 + group_->rank() + 1);
  mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ULL;
  mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebULL;
  mixed ^= mixed >> 31;
  SeedTrainerGenerators(device_, mixed);
}

bool FineTuneTrainer::OwnsMicroBatch(int64_t index) const {
  return group_ == nullptr || index % group_->world_size() == group_->rank();
}

absl::StatusOr<std::vector<double>> FineTuneTrainer::SumOverRanks(std::vector<double> values) {
  if (group_ == nullptr) return values;
  return group_->SumAcross(values);
}

absl::Status FineTuneTrainer::BroadcastParameters() {
  if (group_ == nullptr) return absl::OkStatus();
  std::vector<torch::Tensor> tensors;
  for (const auto& named : parameters_) tensors.push_back(named.second.detach());
  return group_->Broadcast(tensors);
}

void FineTuneTrainer::CaptureRandomness() {
  cpu_rng_state_ = TrainerGeneratorState(torch::kCPU);
  if (!device_.is_cpu()) device_rng_state_ = TrainerGeneratorState(device_);
}

absl::Status FineTuneTrainer::Restore(const TrainingCheckpoint& c) {
  if (c.step < 0 || c.step > total_steps_ || c.epoch < 0 || c.next_sequence < 0 ||
      c.next_sequence > train_.size() || c.tokens_processed < 0) {
    return absl::DataLossError(absl::StrCat("the checkpoint's position (step ", c.step, ", epoch ",
                                            c.epoch, ", sequence ", c.next_sequence,
                                            ") does not fit this run"));
  }
  LIGER_RETURN_IF_ERROR(adapters_.LoadParameters(c.adapter));
  for (const auto& [name, parameter] : parameters_) {
    auto it = c.optimizer.find(name);
    if (it == c.optimizer.end()) continue;  // no step had updated it yet
    const AdamMoments& moments = it->second;
    if (!moments.exp_avg.sizes().equals(parameter.sizes()) ||
        !moments.exp_avg_sq.sizes().equals(parameter.sizes())) {
      return absl::DataLossError(
          absl::StrCat("the checkpoint's optimizer state for ", name, " has the wrong shape"));
    }
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    state->step(moments.steps);
    state->exp_avg(moments.exp_avg.to(parameter.options()));
    state->exp_avg_sq(moments.exp_avg_sq.to(parameter.options()));
    optimizer_->state()[OptimizerStateKey(parameter)] = std::move(state);
  }
  SetTrainerGeneratorState(torch::kCPU, c.cpu_rng_state);
  if (!device_.is_cpu() && c.device_rng_state.defined()) {
    SetTrainerGeneratorState(device_, c.device_rng_state);
  }
  CaptureRandomness();
  epoch_ = c.epoch;
  next_sequence_ = c.next_sequence;
  order_ = EpochOrder(train_.size(), options_.seed, epoch_);
  progress_.step = c.step;
  progress_.epoch = static_cast<int32_t>(epoch_ + 1);
  progress_.tokens_processed = c.tokens_processed;
  progress_.eval_perplexity = c.eval_perplexity;
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> FineTuneTrainer::SummedLoss(const torch::Tensor& inputs,
                                                          const torch::Tensor& labels) {
  LIGER_ASSIGN_OR_RETURN(torch::Tensor logits,
                         model_.TrainingForward(inputs.to(device_), &adapters_,
                                                options_.activation_checkpointing));
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}), labels.to(device_).reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kUntrainedLabel).reduction(
          torch::kSum));
}

absl::StatusOr<FineTuneTrainer::SummedTrainingLoss> FineTuneTrainer::SummedDistillationLoss(
    const torch::Tensor& inputs, const torch::Tensor& labels) {
  const torch::Tensor ids = inputs.to(device_);
  const torch::Tensor targets = labels.to(device_).reshape({-1});
  // The teacher runs first (without a graph), so its activations are gone before the student's
  // are kept for backward; only its logits stay, and those are reused in place.
  LIGER_ASSIGN_OR_RETURN(torch::Tensor teacher_logits, teacher_->Forward(ids));
  teacher_logits = teacher_logits.reshape({-1, teacher_logits.size(-1)});
  torch::Tensor log_probs;
  {
    LIGER_ASSIGN_OR_RETURN(
        torch::Tensor logits,
        model_.TrainingForward(ids, &adapters_, options_.activation_checkpointing));
    log_probs = torch::log_softmax(logits.reshape({-1, logits.size(-1)}), -1);
  }
  SummedTrainingLoss loss;
  loss.distill_kl = SummedDistillationKl(std::move(teacher_logits), log_probs,
                                         targets != kUntrainedLabel);
  loss.objective = torch::nll_loss(log_probs, targets, {}, at::Reduction::Sum, kUntrainedLabel) +
                   options_.distill_weight * loss.distill_kl;
  return loss;
}

absl::StatusOr<bool> FineTuneTrainer::Step(const std::function<bool()>& stop_requested) {
  if (next_sequence_ >= train_.size()) {
    ++epoch_;
    next_sequence_ = 0;
    order_ = EpochOrder(train_.size(), options_.seed, epoch_);
  }
  const int64_t micro = options_.micro_batch_size;
  const int64_t count = std::min<int64_t>(micro * options_.gradient_accumulation_steps,
                                          train_.size() - next_sequence_);
  const absl::Span<const int64_t> batch(order_.data() + next_sequence_, count);
  // The loss is the mean over every trained label of the whole step, however it is split.
  const double trained = static_cast<double>(train_.TrainedLabels(batch));
  const double learning_rate = learning_rate_.At(progress_.step + 1);
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(learning_rate);
  optimizer_->zero_grad();
  adapters_.SetTraining(true);
  if (group_ != nullptr) SeedRandomnessForStep();
  const auto start = std::chrono::steady_clock::now();
  double loss_sum = 0;
  double kl_sum = 0;
  // The last micro-batch this rank trains in this step: its backward starts the all-reduce.
  int64_t last_owned = -1;
  for (int64_t first = 0, index = 0; first < count; first += micro, ++index) {
    if (OwnsMicroBatch(index)) last_owned = first;
  }
  for (int64_t first = 0, index = 0; first < count; first += micro, ++index) {
    if (!OwnsMicroBatch(index)) continue;
    if (stop_requested && stop_requested()) return false;
    if (gradient_buckets_ != nullptr && first == last_owned) gradient_buckets_->Arm();
    auto [inputs, labels] = train_.Batch(batch.subspan(first, std::min(micro, count - first)));
    torch::Tensor loss;
    if (teacher_ != nullptr) {
      LIGER_ASSIGN_OR_RETURN(SummedTrainingLoss distilled, SummedDistillationLoss(inputs, labels));
      loss = std::move(distilled.objective);
      kl_sum += distilled.distill_kl.item<double>();
    } else {
      LIGER_ASSIGN_OR_RETURN(loss, SummedLoss(inputs, labels));
    }
    (loss / trained).backward();
    loss_sum += loss.item<double>();
  }
  if (gradient_buckets_ != nullptr) {
    LIGER_RETURN_IF_ERROR(gradient_buckets_->Finish());
    LIGER_ASSIGN_OR_RETURN(std::vector<double> sums, group_->SumAcross({loss_sum, kl_sum}));
    loss_sum = sums[0];
    kl_sum = sums[1];
  }
  if (options_.max_grad_norm > 0) {
    torch::nn::utils::clip_grad_norm_(optimizer_->param_groups()[0].params(),
                                      options_.max_grad_norm);
  }
  optimizer_->step();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t tokens = count * train_.sequence_length();
  next_sequence_ += count;
  CaptureRandomness();
  progress_.step += 1;
  progress_.epoch = static_cast<int32_t>(epoch_ + 1);
  progress_.loss = loss_sum / trained;
  if (teacher_ != nullptr) progress_.distill_kl = kl_sum / trained;
  progress_.learning_rate = learning_rate;
  progress_.tokens_per_second = seconds > 0 ? static_cast<double>(tokens) / seconds : 0;
  progress_.tokens_processed += tokens;
  return true;
}

absl::StatusOr<double> FineTuneTrainer::EvalPerplexity() {
  torch::NoGradGuard no_grad;
  adapters_.SetTraining(false);
  double loss_sum = 0;
  int64_t trained = 0;
  std::vector<int64_t> indices;
  for (int64_t first = 0, index = 0; first < eval_->size();
       first += options_.micro_batch_size, ++index) {
    if (!OwnsMicroBatch(index)) continue;
    indices.clear();
    for (int64_t i = first; i < std::min<int64_t>(eval_->size(), first + options_.micro_batch_size);
         ++i) {
      indices.push_back(i);
    }
    auto [inputs, labels] = eval_->Batch(indices);
    LIGER_ASSIGN_OR_RETURN(torch::Tensor loss, SummedLoss(inputs, labels));
    loss_sum += loss.item<double>();
    trained += eval_->TrainedLabels(indices);
  }
  LIGER_ASSIGN_OR_RETURN(std::vector<double> sums,
                         SumOverRanks({loss_sum, static_cast<double>(trained)}));
  return std::exp(sums[0] / sums[1]);
}

TrainingCheckpoint FineTuneTrainer::Snapshot() const {
  TrainingCheckpoint c;
  c.step = progress_.step;
  c.epoch = epoch_;
  c.next_sequence = next_sequence_;
  c.tokens_processed = progress_.tokens_processed;
  c.eval_perplexity = progress_.eval_perplexity;
  c.adapter = parameters_;
  for (const auto& [name, parameter] : parameters_) {
    auto it = optimizer_->state().find(OptimizerStateKey(parameter));
    if (it == optimizer_->state().end()) continue;
    const auto& state = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    c.optimizer[name] = AdamMoments{state.step(), state.exp_avg(), state.exp_avg_sq()};
  }
  c.cpu_rng_state = cpu_rng_state_;
  c.device_rng_state = device_rng_state_;
  return c;
}

absl::Status FineTuneTrainer::SaveCheckpoint() {
  absl::Status saved;
  if (group_ == nullptr || group_->rank() == 0) {
    TrainingCheckpoint c = Snapshot();
    c.data_checksum = train_.Checksum();
    c.options = ResumeOptionsJson(options_);
    saved = SaveTrainingCheckpoint(FineTuneResumeDir(options_.output_dir), c);
  }
  if (group_ == nullptr) return saved;
  LIGER_ASSIGN_OR_RETURN(bool failed, group_->AnyAcross(!saved.ok()));
  if (failed && saved.ok()) {
    return AnotherRanksFailure(absl::UnavailableError(absl::StrCat(
        "rank 0 could not save the checkpoint of step ", progress_.step, "; see its log")));
  }
  return saved;
}

absl::Status FineTuneTrainer::Train(const FineTuneProgressCallback& on_progress,
                                    const std::function<bool()>& stop_requested) {
  while (progress_.step < total_steps_) {
    // Ranks stop together, between steps (see below), never in the middle of one.
    LIGER_ASSIGN_OR_RETURN(bool completed,
                           Step(group_ == nullptr ? stop_requested : std::function<bool()>()));
    if (!completed) {
      absl::Status saved = SaveCheckpoint();
      if (!saved.ok()) {
        return absl::Status(saved.code(), absl::StrCat("stopped at step ", progress_.step,
                                                       " but could not save a checkpoint: ",
                                                       saved.message()));
      }
      return absl::CancelledError(absl::StrCat("fine-tuning stopped after step ", progress_.step,
                                               " of ", total_steps_, " (checkpoint saved)"));
    }
    const int64_t step = progress_.step;
    const bool eval_due = eval_ != nullptr &&
                          ((options_.eval_every_steps > 0 && step % options_.eval_every_steps == 0) ||
                           step == total_steps_);
    if (eval_due) {
      LIGER_ASSIGN_OR_RETURN(double perplexity, EvalPerplexity());
      progress_.eval_perplexity = perplexity;
    }
    absl::Status reported = on_progress ? on_progress(progress_) : absl::OkStatus();
    const bool save_due = options_.save_every_steps > 0 && step % options_.save_every_steps == 0;
    bool stop = !reported.ok();
    if (group_ != nullptr) {
      LIGER_ASSIGN_OR_RETURN(
          stop, group_->AnyAcross(stop || (stop_requested && stop_requested())));
    }
    if (stop || save_due) LIGER_RETURN_IF_ERROR(SaveCheckpoint());
    if (!reported.ok()) return reported;
    if (stop && progress_.step < total_steps_) {
      return absl::CancelledError(absl::StrCat("fine-tuning stopped after step ", progress_.step,
                                               " of ", total_steps_, " (checkpoint saved)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace liger
