#include "core/tokenizer/sentencepiece_tokenizer.h"

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/tokenizer/utf8.h"

namespace liger {

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<SentencePieceEngine> sp)
    : sp_(std::move(sp)) {
  if (sp_->BosId() >= 0) bos_id_ = sp_->BosId();
  if (sp_->EosId() >= 0) eos_id_ = sp_->EosId();
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::FromFile(
    const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) return content.status();
  return FromSerializedProto(*content, path);
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>>
SentencePieceTokenizer::FromSerializedProto(std::string_view model_proto,
                                            std::string_view source) {
  const std::string name(source);
  if (model_proto.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": SentencePiece model is empty"));
  }
  absl::StatusOr<std::unique_ptr<SentencePieceEngine>> sp =
      SentencePieceEngine::Load(model_proto, name);
  if (!sp.ok()) return sp.status();
  if ((*sp)->PieceCount() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": SentencePiece model has no pieces"));
  }
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(*std::move(sp)));
}

absl::Status SentencePieceTokenizer::ApplyConfig(const SpecialTokenConfig& config) {
  auto lookup = [&](const std::optional<std::string>& piece, const char* field,
                    std::optional<int32_t>* id) -> absl::Status {
    if (!piece) return absl::OkStatus();
    const int found = sp_->PieceToId(*piece);
    if (found < 0) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer_config.json: ", field, " \"",
                                                     *piece, "\" is not in the model"));
    }
    *id = found;
    return absl::OkStatus();
  };
  if (absl::Status s = lookup(config.bos_token, "bos_token", &bos_id_); !s.ok()) return s;
  if (absl::Status s = lookup(config.eos_token, "eos_token", &eos_id_); !s.ok()) return s;
  add_bos_ = config.add_bos_token.value_or(add_bos_);
  add_eos_ = config.add_eos_token.value_or(add_eos_);
  if ((add_bos_ && !bos_id_) || (add_eos_ && !eos_id_)) {
    return absl::InvalidArgumentError(
        "tokenizer_config.json: add_bos_token/add_eos_token set but the model has no such token");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> SentencePieceTokenizer::Encode(
    std::string_view text, bool add_special_tokens) const {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  if (!DecodeUtf8(text, &cps, &offsets)) {
    return absl::InvalidArgumentError("text to encode is not valid UTF-8");
  }
  absl::StatusOr<std::vector<int32_t>> pieces = sp_->Encode(text);
  if (!pieces.ok()) return pieces.status();
  std::vector<int32_t> ids;
  ids.reserve(pieces->size() + 2);
  if (add_special_tokens && add_bos_ && bos_id_) ids.push_back(*bos_id_);
  ids.insert(ids.end(), pieces->begin(), pieces->end());
  if (add_special_tokens && add_eos_ && eos_id_) ids.push_back(*eos_id_);
  return ids;
}

absl::StatusOr<std::string> SentencePieceTokenizer::Decode(absl::Span<const int32_t> ids,
                                                           bool skip_special_tokens) const {
  const int32_t size = vocab_size();
  std::string text;
  std::vector<int32_t> run;
  auto flush = [&]() -> absl::Status {
    if (run.empty()) return absl::OkStatus();
    absl::StatusOr<std::string> decoded = sp_->Decode(run);
    if (!decoded.ok()) return decoded.status();
    text += *decoded;
    run.clear();
    return absl::OkStatus();
  };
  for (int32_t id : ids) {
    if (id < 0 || id >= size) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (size ", size, ")"));
    }
    if (!skip_special_tokens && sp_->IsControl(id)) {
      if (absl::Status s = flush(); !s.ok()) return s;
      text += sp_->IdToPiece(id);
    } else {
      run.push_back(id);
    }
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  return text;
}

int32_t SentencePieceTokenizer::vocab_size() const { return sp_->PieceCount(); }

bool SentencePieceTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && sp_->IsControl(id);
}

}  // namespace liger
