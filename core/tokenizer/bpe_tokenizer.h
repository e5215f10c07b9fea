#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/tokenizer/added_token_splitter.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/byte_level_pre_tokenizer.h"
#include "core/tokenizer/special_token_config.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

// A Hugging Face tokenizer.json with a byte-level BPE model (GPT-2, Llama-3, Qwen2 style).
// Configurations it cannot reproduce exactly (other normalizers, regexes, decoders...) are
// rejected with INVALID_ARGUMENT naming the unsupported part.
class BpeTokenizer : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromJson(std::string_view tokenizer_json);
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromFile(const std::string& path);

  // Applies tokenizer_config.json: bos_token/eos_token choose the ids; add_bos_token or
  // add_eos_token, when present, replace the post-processor's template by
  // [BOS if add_bos] $A [EOS if add_eos], as transformers' Llama fast tokenizer does.
  absl::Status ApplyConfig(const SpecialTokenConfig& config);

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(token_bytes_.size()); }
  std::optional<int32_t> bos_id() const override { return bos_id_; }
  std::optional<int32_t> eos_id() const override { return eos_id_; }
  bool IsSpecial(int32_t id) const override { return special_ids_.contains(id); }

  // The id of a vocabulary or added token.
  std::optional<int32_t> TokenToId(std::string_view token) const;

 private:
  BpeTokenizer(std::unique_ptr<BpeModel> model, ByteLevelPreTokenizer pre_tokenizer,
               std::vector<AddedTokenSplitter::AddedToken> added_tokens)
      : model_(std::move(model)),
        pre_tokenizer_(std::move(pre_tokenizer)),
        splitter_(std::move(added_tokens)) {}

  std::unique_ptr<BpeModel> model_;
  ByteLevelPreTokenizer pre_tokenizer_;
  AddedTokenSplitter splitter_;
  absl::flat_hash_map<std::string, int32_t> added_ids_;
  std::vector<std::optional<std::string>> token_bytes_;  // decoded bytes per id; nullopt: unused
  absl::flat_hash_set<int32_t> special_ids_;
  std::vector<int32_t> template_prefix_;  // post-processor ids before and after the sequence
  std::vector<int32_t> template_suffix_;
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
};

}  // namespace liger
