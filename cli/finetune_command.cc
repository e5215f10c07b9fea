#include <csignal>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/remote/remote_fine_tune.h"
#include "core/jobs/device_memory.h"
#include "core/train/fine_tune.h"
#include "core/util/status_macros.h"
#include "service/job_translation.h"

namespace liger {
namespace {

// Set by SIGINT/SIGTERM; the run polls it between micro-batches and stops with a checkpoint.
volatile std::sig_atomic_t finetune_stop_signal = 0;

void FineTuneSignalHandler(int) { finetune_stop_signal = 1; }

// Installs the handlers for the lifetime of the command, restoring the previous ones after.
class FineTuneSignalScope {
 public:
  FineTuneSignalScope() {
    finetune_stop_signal = 0;
    struct sigaction action = {};
    action.sa_handler = FineTuneSignalHandler;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &previous_int_);
    ::sigaction(SIGTERM, &action, &previous_term_);
  }
  ~FineTuneSignalScope() {
    ::sigaction(SIGINT, &previous_int_, nullptr);
    ::sigaction(SIGTERM, &previous_term_, nullptr);
  }
  FineTuneSignalScope(const FineTuneSignalScope&) = delete;
  FineTuneSignalScope& operator=(const FineTuneSignalScope&) = delete;

 private:
  struct sigaction previous_int_ = {};
  struct sigaction previous_term_ = {};
};

// "--targets q_proj,v_proj" or the short "q,v".
std::vector<std::string> FineTuneTargetsFlag(const CommandLine& cl) {
  std::vector<std::string> targets;
  for (absl::string_view piece : absl::StrSplit(cl.String("targets", "q_proj,k_proj,v_proj"), ',')) {
    std::string name(piece);
    if (!name.empty() && !absl::EndsWith(name, "_proj")) name += "_proj";
    targets.push_back(std::move(name));
  }
  return targets;
}

absl::StatusOr<FineTuneOptions> FineTuneOptionsFromFlags(const CommandLine& cl) {
  FineTuneOptions o;
  LIGER_ASSIGN_OR_RETURN(o.model_dir, cl.Required("model"));
  LIGER_ASSIGN_OR_RETURN(o.train_data, cl.Required("data"));
  LIGER_ASSIGN_OR_RETURN(o.output_dir, cl.Required("output"));
  o.eval_data = cl.String("valid", "");
  LIGER_ASSIGN_OR_RETURN(o.lora.rank, cl.Int32("lora-rank", 8));
  LIGER_ASSIGN_OR_RETURN(o.lora.alpha, cl.Double("lora-alpha", 8));
  LIGER_ASSIGN_OR_RETURN(o.lora.dropout, cl.Double("lora-dropout", 0));
  o.lora.target_modules = FineTuneTargetsFlag(cl);
  LIGER_ASSIGN_OR_RETURN(o.learning_rate, cl.Double("lr", 1e-3));
  const std::string schedule = cl.String("schedule", "constant");
  if (schedule == "cosine") {
    o.schedule = LearningRateSchedule::kCosine;
  } else if (schedule != "constant") {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --schedule must be constant or cosine, got \"", schedule, "\""));
  }
  LIGER_ASSIGN_OR_RETURN(o.warmup_steps, cl.Int("warmup-steps", 0));
  LIGER_ASSIGN_OR_RETURN(o.max_steps, cl.Int("max-steps", 0));
  // --max-steps alone trains for that many steps, however many epochs they take.
  LIGER_ASSIGN_OR_RETURN(o.epochs, cl.Int32("epochs", cl.Has("max-steps") ? 0 : 2));
  LIGER_ASSIGN_OR_RETURN(o.sequence_length, cl.Int32("seq-len", 1024));
  LIGER_ASSIGN_OR_RETURN(int32_t batch, cl.Int32("batch-size", 8));
  LIGER_ASSIGN_OR_RETURN(o.micro_batch_size, cl.Int32("micro-batch", 1));
  if (batch < 1 || o.micro_batch_size < 1 || batch % o.micro_batch_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --batch-size (", batch, ") must be a positive multiple of --micro-batch (",
                     o.micro_batch_size, ")"));
  }
  o.gradient_accumulation_steps = batch / o.micro_batch_size;
  LIGER_ASSIGN_OR_RETURN(o.eval_every_steps, cl.Int("eval-every", 0));
  LIGER_ASSIGN_OR_RETURN(o.save_every_steps, cl.Int("save-every", 0));
  o.resume = cl.Has("resume");
  o.activation_checkpointing = cl.Has("activation-checkpointing");
  LIGER_ASSIGN_OR_RETURN(int64_t seed, cl.Int("seed", 0));
  o.seed = static_cast<uint64_t>(seed);
  o.dtype = cl.String("dtype", "float32");
  o.device = cl.String("device", "cpu");
  LIGER_ASSIGN_OR_RETURN(o.distill_weight, cl.Double("distill", 0));
  LIGER_ASSIGN_OR_RETURN(o.data_parallel_ranks, cl.Int32("data-parallel", 1));
  return o;
}

}  // namespace

absl::Status RunFineTuneCommand(const std::vector<std::string>& args) {
  LIGER_ASSIGN_OR_RETURN(
      CommandLine cl,
      CommandLine::Parse(args,
                         {"model", "data", "output", "valid", "lora-rank", "lora-alpha",
                          "lora-dropout", "targets", "lr", "schedule", "warmup-steps", "epochs",
                          "max-steps", "seq-len", "batch-size", "micro-batch", "eval-every",
                          "save-every", "seed", "dtype", "device", "distill", "data-parallel",
                          "server"},
                         {"resume", "activation-checkpointing"}));
  LIGER_ASSIGN_OR_RETURN(FineTuneOptions options, FineTuneOptionsFromFlags(cl));
  if (cl.Has("server")) {
    if (options.resume) {
      return absl::InvalidArgumentError(
          "--resume is for local runs; a server resumes its interrupted jobs itself");
    }
    // The paths are the server's; dtype and device left unset take the server's defaults.
    v1::FineTuneRequest request;
    service::FineTuneOptionsToProto(options, &request);
    if (!cl.Has("dtype")) request.clear_dtype();
    if (!cl.Has("device")) request.clear_device();
    if (!cl.Has("seed")) request.clear_seed();
    return cli::RunRemoteFineTune(cl.String("server", ""), request);
  }
  // WORLD_SIZE > 1 (torchrun, a Kubernetes Indexed Job): this process is one rank of a
  // data-parallel run, and only rank 0 prints.
  LIGER_ASSIGN_OR_RETURN(DistributedEnvironment env, DistributedEnvironmentFromEnv());
  FineTuneSignalScope signals;
  const int64_t eval_every = options.eval_every_steps;
  const bool prints = env.rank == 0;
  absl::StatusOr<FineTuneResult> result = RunFineTuneRank(
      options, env,
      [eval_every, prints](const FineTuneProgress& p) {
        if (!prints) return absl::OkStatus();
        std::printf("step %lld/%lld epoch %d loss %.4f lr %.3g tok/s %.0f",
                    static_cast<long long>(p.step), static_cast<long long>(p.total_steps), p.epoch,
                    p.loss, p.learning_rate, p.tokens_per_second);
        if (p.distill_kl) std::printf(" distill kl %.4f", *p.distill_kl);
        const bool evaluated =
            (eval_every > 0 && p.step % eval_every == 0) || p.step == p.total_steps;
        if (evaluated && p.eval_perplexity) std::printf(" eval ppl %.3f", *p.eval_perplexity);
        std::printf("\n");
        std::fflush(stdout);
        return absl::OkStatus();
      },
      [] { return finetune_stop_signal != 0; });
  if (result.status().code() == absl::StatusCode::kCancelled) {
    return absl::CancelledError(absl::StrCat(result.status().message(),
                                             "; rerun with --resume to continue from ",
                                             FineTuneResumeDir(options.output_dir)));
  }
  LIGER_RETURN_IF_ERROR(result.status());
  if (prints) std::printf("fine-tuned model written to %s\n", result->output_dir.c_str());
  if (absl::StartsWith(options.device, "cuda")) {
    const std::string device =
        options.device == "cuda" ? absl::StrCat("cuda:", env.local_rank) : options.device;
    std::printf("peak device memory %.2f GB on %s\n",
                static_cast<double>(ReadPeakDeviceMemory(device)) / 1e9, device.c_str());
  }
  return absl::OkStatus();
}

}  // namespace liger
