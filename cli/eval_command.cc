#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "core/eval/perplexity.h"
#include "core/eval/text_corpus.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/util/status_macros.h"

namespace liger {

absl::Status RunEvalCommand(const std::vector<std::string>& args) {
  std::set<std::string> known = AdaptedModelFlagNames();
  known.insert({"data", "seq-len", "max-windows", "batch-size"});
  LIGER_ASSIGN_OR_RETURN(CommandLine cl, CommandLine::Parse(args, known));
  LIGER_ASSIGN_OR_RETURN(std::string data, cl.Required("data"));
  PerplexityOptions options;
  LIGER_ASSIGN_OR_RETURN(options.seq_len, cl.Int("seq-len", 512));
  LIGER_ASSIGN_OR_RETURN(options.max_windows, cl.Int("max-windows", 0));
  LIGER_ASSIGN_OR_RETURN(options.batch_size, cl.Int("batch-size", 8));
  LIGER_ASSIGN_OR_RETURN(std::vector<std::string> texts, ReadJsonlTexts(data));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(cl.String("model", "")));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, LoadModelFromFlags(cl));
  LIGER_ASSIGN_OR_RETURN(std::vector<int32_t> stream, PackDocuments(texts, *tokenizer));
  LIGER_ASSIGN_OR_RETURN(PerplexityResult result, EvaluatePerplexity(*model, stream, options));
  std::printf("documents: %zu\ntokens: %zu\nwindows: %lld\nscored tokens: %lld\nmean loss: %.6f\n",
              texts.size(), stream.size(), static_cast<long long>(result.windows),
              static_cast<long long>(result.scored_tokens), result.mean_loss);
  std::printf("perplexity: %.4f\n", result.perplexity);
  return absl::OkStatus();
}

}  // namespace liger
