#include "core/eval/perplexity.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace liger {

absl::StatusOr<std::vector<int32_t>> PackDocuments(const std::vector<std::string>& texts,
                                                   const Tokenizer& tokenizer) {
  if (!tokenizer.eos_id()) {
    return absl::FailedPreconditionError("the tokenizer defines no EOS token to separate documents");
  }
  std::vector<int32_t> stream;
  for (const std::string& text : texts) {
    LIGER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode(text, /*add_special_tokens=*/true));
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(*tokenizer.eos_id());
  }
  return stream;
}

absl::StatusOr<PerplexityResult> EvaluatePerplexity(const CausalLM& model,
                                                    absl::Span<const int32_t> stream,
                                                    const PerplexityOptions& options) {
  if (options.seq_len < 2) return absl::InvalidArgumentError("seq_len must be at least 2");
  if (options.batch_size < 1) return absl::InvalidArgumentError("batch_size must be positive");
  if (options.max_windows < 0) return absl::InvalidArgumentError("max_windows must be >= 0");
  int64_t windows = static_cast<int64_t>(stream.size()) / options.seq_len;
  if (options.max_windows > 0) windows = std::min(windows, options.max_windows);
  if (windows == 0) {
    return absl::InvalidArgumentError(absl::StrCat("the data holds ", stream.size(),
                                                   " tokens, fewer than one window of ",
                                                   options.seq_len));
  }
  double total_loss = 0;
  try {
    torch::Tensor all = torch::from_blob(const_cast<int32_t*>(stream.data()),
                                         {windows, options.seq_len}, torch::kInt32)
                            .to(torch::kInt64);
    for (int64_t first = 0; first < windows; first += options.batch_size) {
      const int64_t n = std::min(options.batch_size, windows - first);
      torch::Tensor ids = all.narrow(0, first, n).to(model.device());
      LIGER_ASSIGN_OR_RETURN(torch::Tensor logits, model.Forward(ids));
      const int64_t vocab = logits.size(-1);
      torch::Tensor pred = logits.narrow(1, 0, options.seq_len - 1).reshape({-1, vocab});
      torch::Tensor target = ids.narrow(1, 1, options.seq_len - 1).reshape({-1});
      torch::Tensor loss = torch::nn::functional::cross_entropy(
          pred, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
      total_loss += loss.item<double>();
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("perplexity evaluation failed: ", e.what_without_backtrace()));
  }
  PerplexityResult result;
  result.windows = windows;
  result.scored_tokens = windows * (options.seq_len - 1);
  result.mean_loss = total_loss / static_cast<double>(result.scored_tokens);
  result.perplexity = std::exp(result.mean_loss);
  return result;
}

}  // namespace liger
