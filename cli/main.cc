#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

constexpr char kUsage[] = R"(liger: linearize Llama-family checkpoints into gated recurrent models and serve them.

usage: liger <command> [flags]

commands:
  logits    --model DIR --input IN.safetensors --output OUT.safetensors [--mode prefill|decode]
            [--dtype float32|bfloat16] [--device cpu|cuda]
            logits, eval and generate: [--adapter DIR] (a PEFT LoRA adapter, merged in memory)
  eval      --model DIR --data FILE.jsonl [--seq-len 512] [--max-windows K] [--batch-size 8]
  tokenize  --model DIR --text "..." [--no-special]
  generate  --model DIR (--prompt "..." | --prompt-ids 1,2,3) [--max-tokens N] [--min-tokens N]
            [--temperature T] [--top-p P] [--top-k K]
            [--min-p P] [--seed S] [--stop STR]... [--ignore-eos] [--ids]
            With --server HOST:PORT instead of --model, the server generates:
            [--model-name NAME] [--session ID] (continue that session)
  convert   --model DIR --output DIR --variant gla|hgrn2|gsa [--window 64] [--mix 0.5]
            [--softmax-layers 0,8,16]
            [--server HOST:PORT [--load-as NAME]] (the server converts; DIRs are on the server)
  finetune  --model DIR --data TRAIN.jsonl --output DIR [--valid VALID.jsonl] [--lora-rank 8]
            [--lora-alpha 8] [--lora-dropout 0] [--targets q_proj,k_proj,v_proj]
            [--lr 1e-3] [--schedule constant|cosine] [--warmup-steps 0]
            [--epochs 2 | --max-steps N] [--seq-len 1024] [--batch-size 8] [--micro-batch 1]
            [--eval-every N] [--save-every N] [--resume] [--seed S] [--dtype] [--device]
            [--distill 0] (adds λ·KL(softmax teacher ‖ student)) [--activation-checkpointing]
            [--server HOST:PORT] (runs it as a job on the server and follows it; DIRs are there)
            [--data-parallel N] (N ranks in this process: cuda:0..N-1 with --device cuda)
            Or one rank per process (torchrun, an Indexed Job) when WORLD_SIZE > 1: RANK (or
            JOB_COMPLETION_INDEX), LOCAL_RANK, MASTER_ADDR, MASTER_PORT
  serve     --model DIR [--model-name NAME] [--host 127.0.0.1] [--port 50051] [--metrics-port M]
            [--session-budget-bytes B] [--session-idle-ttl-seconds S] [--log-format text|json]
            [--shutdown-grace-seconds 10] [--dtype float32|bfloat16] [--device cpu|cuda]
            [--jobs-dir DIR] (fine-tuning jobs kept there survive restarts and resume)
            [--session-dir DIR] (evicted sessions, and all at shutdown, are parked there and
            restored on their next use, also after a restart)
            [--path-root DIR ...] (paths in requests must resolve inside one; relative ones
            start at the first; without it requests may name any path)
            [--max-batch-size 32] (streams decoded together in one step)
            [--max-stepped-prompt-tokens 64] (shorter prompts join running decode steps)
            [--max-prompt-tokens 131072] [--max-new-tokens 16384] (per request)
            [--max-request-bytes 4194304] (gRPC messages and HTTP bodies)
            [--max-pending-jobs 16] (fine-tuning jobs queued or running)
            [--http-port P] (OpenAI-compatible /v1/completions and /v1/chat/completions with
            server-sent events, /v1/sessions, and a streaming demo page at /)
  session   create|list --server HOST:PORT [--model-name NAME]
            get|delete|fork --server HOST:PORT --id ID   (prints sessions as JSON)
  health    --server HOST:PORT [--timeout-seconds 5]   (exit 0 and SERVING when grpc health says so)
)";

using Command = absl::Status (*)(const std::vector<std::string>&);

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, Command> commands = {
      {"logits", liger::RunLogitsCommand},
      {"eval", liger::RunEvalCommand},
      {"tokenize", liger::RunTokenizeCommand},
      {"generate", liger::RunGenerateCommand},
      {"convert", liger::RunConvertCommand},
      {"finetune", liger::RunFineTuneCommand},
      {"serve", liger::RunServeCommand},
      {"session", liger::RunSessionCommand},
      {"health", liger::RunHealthCommand},
  };
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "liger: unknown command \"%s\" (see liger --help)\n", argv[1]);
    return 2;
  }
  absl::Status status = it->second(std::vector<std::string>(argv + 2, argv + argc));
  if (!status.ok()) {
    std::fprintf(stderr, "liger %s: %s\n", argv[1], std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
