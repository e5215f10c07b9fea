#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/tokenizer/sentencepiece_engine.h"
#include "core/tokenizer/special_token_config.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

// A SentencePiece tokenizer.model (Llama-2 / Mistral style). Encode adds BOS (and EOS) according
// to add_bos_token/add_eos_token, which default to true/false as in transformers' LlamaTokenizer.
class SentencePieceTokenizer : public Tokenizer {
 public:
  // INVALID_ARGUMENT for a malformed model, FAILED_PRECONDITION if the SentencePiece shim cannot
  // be loaded (sentencepiece_library.h).
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromFile(const std::string& path);
  // source names the model in error messages.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromSerializedProto(
      std::string_view model_proto, std::string_view source);
  ~SentencePieceTokenizer() override;

  // Applies tokenizer_config.json: add_bos_token/add_eos_token flags and bos/eos token pieces.
  absl::Status ApplyConfig(const SpecialTokenConfig& config);

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens) const override;
  // Control tokens (BOS, EOS...) are dropped with skip_special_tokens, otherwise written as their
  // piece text, the text between them decoded by SentencePiece as a separate run.
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> bos_id() const override { return bos_id_; }
  std::optional<int32_t> eos_id() const override { return eos_id_; }
  bool IsSpecial(int32_t id) const override;

 private:
  explicit SentencePieceTokenizer(std::unique_ptr<SentencePieceEngine> sp);

  std::unique_ptr<SentencePieceEngine> sp_;
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
  bool add_bos_ = true;
  bool add_eos_ = false;
};

}  // namespace liger
