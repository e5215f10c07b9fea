#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/tokenizer/sentencepiece_library.h"

namespace liger {

// One SentencePiece model, reached through the dlopen'ed shim (sentencepiece_library.h).
class SentencePieceEngine {
 public:
  // FAILED_PRECONDITION if the shim cannot be loaded; INVALID_ARGUMENT, naming source, if
  // serialized_model is not a valid model.
  static absl::StatusOr<std::unique_ptr<SentencePieceEngine>> Load(
      std::string_view serialized_model, const std::string& source);
  ~SentencePieceEngine();

  // INTERNAL if SentencePiece fails.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text) const;
  // INTERNAL if SentencePiece fails, including for ids out of range.
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids) const;

  int32_t PieceCount() const;
  int32_t PieceToId(std::string_view piece) const;  // -1 if the model has no such piece
  std::string_view IdToPiece(int32_t id) const;     // empty for an id out of range
  bool IsControl(int32_t id) const;
  int32_t BosId() const;  // -1 if none
  int32_t EosId() const;

 private:
  using Processor = std::unique_ptr<LigerSentencePiece, decltype(&liger_sp_destroy)>;

  SentencePieceEngine(const SentencePieceLibrary::Api& api, Processor sp)
      : api_(api), sp_(std::move(sp)) {}

  const SentencePieceLibrary::Api& api_;  // owned by the process-wide library
  Processor sp_;
};

}  // namespace liger
