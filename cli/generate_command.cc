#include <cstdio>
#include <iostream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "cli/remote/remote_generate.h"
#include "core/engine/generator.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

absl::StatusOr<GenerationOptions> OptionsFromFlags(const CommandLine& cl) {
  GenerationOptions o;
  LIGER_ASSIGN_OR_RETURN(int64_t max_tokens, cl.Int("max-tokens", 128));
  o.max_new_tokens = static_cast<int>(max_tokens);
  LIGER_ASSIGN_OR_RETURN(int64_t min_tokens, cl.Int("min-tokens", 0));
  o.min_new_tokens = static_cast<int>(min_tokens);
  double v;
  LIGER_ASSIGN_OR_RETURN(v, cl.Double("temperature", 0.0));
  o.sampling.temperature = static_cast<float>(v);
  LIGER_ASSIGN_OR_RETURN(v, cl.Double("top-p", 1.0));
  o.sampling.top_p = static_cast<float>(v);
  LIGER_ASSIGN_OR_RETURN(v, cl.Double("min-p", 0.0));
  o.sampling.min_p = static_cast<float>(v);
  LIGER_ASSIGN_OR_RETURN(v, cl.Double("repetition-penalty", 1.0));
  o.sampling.repetition_penalty = static_cast<float>(v);
  LIGER_ASSIGN_OR_RETURN(v, cl.Double("presence-penalty", 0.0));
  o.sampling.presence_penalty = static_cast<float>(v);
  LIGER_ASSIGN_OR_RETURN(v, cl.Double("frequency-penalty", 0.0));
  o.sampling.frequency_penalty = static_cast<float>(v);
  LIGER_ASSIGN_OR_RETURN(int64_t top_k, cl.Int("top-k", 0));
  o.sampling.top_k = static_cast<int>(top_k);
  LIGER_ASSIGN_OR_RETURN(int64_t seed, cl.Int("seed", 0));
  o.sampling.seed = static_cast<uint64_t>(seed);
  o.stop = cl.All("stop");
  o.ignore_eos = cl.Has("ignore-eos");
  return o;
}

absl::Status CheckOnePromptFlag(const CommandLine& cl) {
  if (cl.Has("prompt") == cl.Has("prompt-ids")) {
    return absl::InvalidArgumentError("give exactly one of --prompt and --prompt-ids");
  }
  return absl::OkStatus();
}

// "--prompt-ids 1,2,3".
absl::StatusOr<std::vector<int32_t>> PromptIdsFlag(const CommandLine& cl) {
  LIGER_ASSIGN_OR_RETURN(std::vector<int64_t> values, cl.IntList("prompt-ids"));
  std::vector<int32_t> ids;
  ids.reserve(values.size());
  for (const int64_t value : values) {
    if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("--prompt-ids holds ", value,
                                                     ", which is not a token id"));
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

// The prompt as text (--prompt, encoded with the tokenizer's BOS) or as ids (--prompt-ids 1,2,3).
absl::StatusOr<std::vector<int32_t>> PromptFromFlags(const CommandLine& cl, const Tokenizer& tokenizer) {
  LIGER_RETURN_IF_ERROR(CheckOnePromptFlag(cl));
  if (cl.Has("prompt")) return tokenizer.Encode(cl.String("prompt", ""), /*add_special_tokens=*/true);
  return PromptIdsFlag(cl);
}

// Flags of one mode only: the local model's with --server, the server's without.
absl::Status CheckGenerateModeFlags(const CommandLine& cl) {
  const bool remote = cl.Has("server");
  if (remote && cl.Has("adapter")) {
    return absl::InvalidArgumentError(
        "flag --adapter is for local generation; the server loads its models without adapters "
        "(serve the merged model that `liger finetune` writes instead)");
  }
  for (const std::string& name : ModelFlagNames()) {
    if (remote && cl.Has(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flag --", name, " is for local generation; with --server the server's model runs (choose "
          "it with --model-name)"));
    }
  }
  for (const char* name : {"session", "model-name"}) {
    if (!remote && cl.Has(name)) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs --server"));
    }
  }
  if (remote && cl.Has("session") && cl.String("session", "").empty()) {
    return absl::InvalidArgumentError("flag --session must not be empty");
  }
  return absl::OkStatus();
}

// The request `liger generate --server` sends: the local command's options, field by field.
absl::StatusOr<v1::GenerateRequest> RemoteGenerateRequest(const CommandLine& cl,
                                                          const GenerationOptions& options) {
  v1::GenerateRequest request;
  request.set_model(cl.String("model-name", ""));
  request.set_session_id(cl.String("session", ""));
  LIGER_RETURN_IF_ERROR(CheckOnePromptFlag(cl));
  if (cl.Has("prompt")) {
    request.set_text(cl.String("prompt", ""));
  } else {
    LIGER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, PromptIdsFlag(cl));
    request.mutable_token_ids()->mutable_ids()->Add(ids.begin(), ids.end());
  }
  v1::SamplingParams* sampling = request.mutable_sampling();
  sampling->set_temperature(options.sampling.temperature);
  sampling->set_top_k(options.sampling.top_k);
  sampling->set_top_p(options.sampling.top_p);
  sampling->set_min_p(options.sampling.min_p);
  sampling->set_repetition_penalty(options.sampling.repetition_penalty);
  sampling->set_presence_penalty(options.sampling.presence_penalty);
  sampling->set_frequency_penalty(options.sampling.frequency_penalty);
  sampling->set_seed(options.sampling.seed);
  request.set_max_new_tokens(options.max_new_tokens);
  request.set_min_new_tokens(options.min_new_tokens);
  for (const std::string& stop : options.stop) request.add_stop(stop);
  request.set_ignore_eos(options.ignore_eos);
  return request;
}

}  // namespace

absl::Status RunGenerateCommand(const std::vector<std::string>& args) {
  std::set<std::string> known = AdaptedModelFlagNames();
  known.insert({"prompt", "prompt-ids", "max-tokens", "min-tokens", "temperature", "top-p", "top-k", "min-p", "seed", "stop",
                "repetition-penalty", "presence-penalty", "frequency-penalty", "server", "session",
                "model-name"});
  LIGER_ASSIGN_OR_RETURN(CommandLine cl, CommandLine::Parse(args, known, {"ignore-eos", "ids"}));
  LIGER_RETURN_IF_ERROR(CheckGenerateModeFlags(cl));
  LIGER_ASSIGN_OR_RETURN(GenerationOptions options, OptionsFromFlags(cl));
  LIGER_RETURN_IF_ERROR(ValidateSamplingParams(options.sampling));
  if (cl.Has("server")) {
    LIGER_ASSIGN_OR_RETURN(v1::GenerateRequest request, RemoteGenerateRequest(cl, options));
    return cli::RunRemoteGenerate(cl.String("server", ""), std::move(request), cl.Has("ids"));
  }
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(cl.String("model", "")));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, LoadModelFromFlags(cl));
  LIGER_ASSIGN_OR_RETURN(std::vector<int32_t> prompt_ids, PromptFromFlags(cl, *tokenizer));
  LIGER_ASSIGN_OR_RETURN(std::string prompt_text, tokenizer->Decode(prompt_ids, true));
  std::unique_ptr<ModelState> state = model->NewState();
  std::fputs(prompt_text.c_str(), stdout);
  std::fflush(stdout);
  LIGER_ASSIGN_OR_RETURN(
      GenerationResult result,
      Generate(*model, *tokenizer, *state, prompt_ids, options, [](const TokenEvent& event) {
        std::fputs(event.text_delta.c_str(), stdout);
        std::fflush(stdout);
        return true;
      }));
  std::fputs("\n", stdout);
  // --ids prints the generated token ids, for scripts and exact comparisons.
  if (cl.Has("ids")) {
    std::string line = "ids:";
    for (int32_t id : result.tokens) absl::StrAppend(&line, " ", id);
    std::puts(line.c_str());
  }
  return absl::OkStatus();
}

}  // namespace liger
