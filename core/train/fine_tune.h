#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/train/distributed_environment.h"

namespace liger {

class CollectiveGroup;

// LoRA on the attention (and optionally MLP) projections: W x + (alpha / rank) * B A x, with A
// initialised as PEFT does and B zero, so training starts from the base model exactly.
struct LoraOptions {
  int32_t rank = 8;
  double alpha = 8;
  double dropout = 0;
  // Projection names as in the checkpoint: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
  // down_proj.
  std::vector<std::string> target_modules = {"q_proj", "k_proj", "v_proj"};
};

enum class LearningRateSchedule { kConstant, kCosine };

// Everything a fine-tuning run needs; the CLI (`liger finetune`) and the service's FineTune jobs
// fill the same struct.
struct FineTuneOptions {
  std::string model_dir;   // the checkpoint to train, usually a Liger conversion
  std::string output_dir;  // must not exist; written atomically (staging directory, then rename)
  std::string train_data;  // JSONL: {"text"} or {"instruction", "input", "output"} per line
  std::string eval_data;   // optional JSONL, same format; perplexity every eval_every_steps
  LoraOptions lora;
  double learning_rate = 1e-3;
  LearningRateSchedule schedule = LearningRateSchedule::kConstant;
  int64_t warmup_steps = 0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.95;
  double weight_decay = 0;
  double max_grad_norm = 1.0;  // 0: no clipping
  int32_t epochs = 2;     // 0: as many as max_steps needs (max_steps must then be set)
  int64_t max_steps = 0;  // 0: run all epochs; else stop after this many optimizer steps
  int32_t micro_batch_size = 1;
  int32_t gradient_accumulation_steps = 8;
  int32_t sequence_length = 1024;
  int64_t eval_every_steps = 0;  // 0: only at the end (if eval_data is set)
  int64_t save_every_steps = 0;  // 0: no intermediate checkpoints
  // Keep only each layer's input for the backward pass and recompute the rest during it: much less
  // activation memory (larger micro-batches fit) for one more forward pass.
  bool activation_checkpointing = false;
  std::string dtype = "float32";  // compute dtype of the frozen base: float32 | bfloat16 | float16
  std::string device = "cpu";
  uint64_t seed = 0;  // shuffling, LoRA initialisation and dropout
  // λ of the distillation term: each token's loss adds λ · KL(teacher ‖ student) of the next-token
  // distributions, the teacher being the same weights with their original softmax attention
  // (a converted model is required). 0: plain cross-entropy.
  double distill_weight = 0;
  // Data-parallel ranks in this process, one thread each on cuda:0 ... cuda:N-1 (device "cuda")
  // or on the CPU (device "cpu"; LoRA dropout then draws from one shared generator, so a resumed
  // run with dropout matches an uninterrupted one only in distribution). 1: no data parallelism.
  int32_t data_parallel_ranks = 1;
  // Continue from the checkpoint a previous run with the same options left in
  // `output_dir`'s resume directory (see FineTuneResumeDir), ending exactly where an uninterrupted
  // run would.
  bool resume = false;
};

struct FineTuneProgress {
  int64_t step = 0;         // optimizer steps done
  int64_t total_steps = 0;  // planned optimizer steps
  int32_t epoch = 1;        // 1-based epoch being trained
  double loss = 0;          // mean training loss of the last step (with λ · KL when distilling)
  double learning_rate = 0;
  double tokens_per_second = 0;  // over the last step
  int64_t tokens_processed = 0;
  std::optional<double> eval_perplexity;  // of the latest evaluation
  std::optional<double> distill_kl;  // mean KL(teacher ‖ student) per token of the last step
};

struct FineTuneResult {
  std::string output_dir;
  FineTuneProgress final_progress;
};

// Called after every optimizer step and evaluation, on the training thread. A non-OK status stops
// the run with that status (the latest checkpoint stays for --resume).
using FineTuneProgressCallback = std::function<absl::Status(const FineTuneProgress&)>;

// The directory where a run writing `output_dir` keeps its resumable checkpoint while it runs:
// "<output_dir>.resume", removed once the output is published.
std::string FineTuneResumeDir(const std::string& output_dir);

// Whether an interrupted run writing `output_dir` left a checkpoint that `resume` can continue
// (see HasTrainingCheckpoint). Errors are stat's.
absl::StatusOr<bool> HasFineTuneCheckpoint(const std::string& output_dir);

// Validates `options` (INVALID_ARGUMENT naming the option), loads the model and data (errors name
// the file and line), trains, and publishes `output_dir`: a model directory that loads like any
// converted one (LoRA merged into the weights) plus the adapter in PEFT's layout
// (adapter_config.json, adapter_model.safetensors). `stop_requested` (may be empty) is polled
// between micro-batches; when it turns true the run writes a checkpoint and returns CANCELLED, as
// it returns the callback's status when that fails, so a later `resume` run can continue.
//
// With a `group` of several ranks this process is one rank of a data-parallel run (see
// FineTuneTrainer): every rank calls RunFineTune with the same options and sees the same files;
// rank 0 alone writes checkpoints and publishes the output. The ranks agree before training that
// each of them started (an error on one ends all, naming the failed rank's cause on that rank) and
// resumed from the same step.
absl::StatusOr<FineTuneResult> RunFineTune(const FineTuneOptions& options,
                                           const FineTuneProgressCallback& on_progress,
                                           const std::function<bool()>& stop_requested = nullptr,
                                           CollectiveGroup* group = nullptr);

// RunFineTune as rank env.rank of the data-parallel run `env` describes (a single-process run when
// it is not distributed): joins the other ranks through c10d (NCCL on CUDA, Gloo on the CPU) and
// trains. Device "cuda" means this rank's GPU, cuda:<LOCAL_RANK>.
absl::StatusOr<FineTuneResult> RunFineTuneRank(FineTuneOptions options,
                                               const DistributedEnvironment& env,
                                               const FineTuneProgressCallback& on_progress,
                                               const std::function<bool()>& stop_requested);

}  // namespace liger
