#include "core/tokenizer/sentencepiece_engine.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace liger {
namespace {

// Takes ownership of a buffer the shim allocated.
template <typename T>
std::unique_ptr<T, decltype(&liger_sp_free)> Own(const SentencePieceLibrary::Api& api, T* buffer) {
  return std::unique_ptr<T, decltype(&liger_sp_free)>(buffer, api.free);
}

std::string ErrorMessage(const SentencePieceLibrary::Api& api, char* error) {
  auto owned = Own(api, error);
  return owned != nullptr ? std::string(owned.get()) : "out of memory";
}

}  // namespace

absl::StatusOr<std::unique_ptr<SentencePieceEngine>> SentencePieceEngine::Load(
    std::string_view serialized_model, const std::string& source) {
  absl::StatusOr<const SentencePieceLibrary*> library = SentencePieceLibrary::Get();
  if (!library.ok()) return library.status();
  const SentencePieceLibrary::Api& api = (*library)->api();
  char* error = nullptr;
  Processor sp(api.create(serialized_model.data(), serialized_model.size(), &error), api.destroy);
  if (sp == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a valid SentencePiece model (", ErrorMessage(api, error), ")"));
  }
  return std::unique_ptr<SentencePieceEngine>(new SentencePieceEngine(api, std::move(sp)));
}

SentencePieceEngine::~SentencePieceEngine() = default;

absl::StatusOr<std::vector<int32_t>> SentencePieceEngine::Encode(std::string_view text) const {
  int32_t* ids = nullptr;
  size_t num_ids = 0;
  char* error = nullptr;
  if (!api_.encode(sp_.get(), text.data(), text.size(), &ids, &num_ids, &error)) {
    return absl::InternalError(
        absl::StrCat("SentencePiece encode failed: ", ErrorMessage(api_, error)));
  }
  auto owned = Own(api_, ids);
  return std::vector<int32_t>(owned.get(), owned.get() + num_ids);
}

absl::StatusOr<std::string> SentencePieceEngine::Decode(absl::Span<const int32_t> ids) const {
  char* text = nullptr;
  size_t text_size = 0;
  char* error = nullptr;
  if (!api_.decode(sp_.get(), ids.data(), ids.size(), &text, &text_size, &error)) {
    return absl::InternalError(
        absl::StrCat("SentencePiece decode failed: ", ErrorMessage(api_, error)));
  }
  auto owned = Own(api_, text);
  return std::string(owned.get(), text_size);
}

int32_t SentencePieceEngine::PieceCount() const { return api_.piece_size(sp_.get()); }

int32_t SentencePieceEngine::PieceToId(std::string_view piece) const {
  const int32_t id = api_.piece_to_id(sp_.get(), piece.data(), piece.size());
  // Unknown pieces map to the unk id; only the unk piece itself may.
  if (id < 0 || (api_.is_unknown(sp_.get(), id) && IdToPiece(id) != piece)) return -1;
  return id;
}

std::string_view SentencePieceEngine::IdToPiece(int32_t id) const {
  size_t size = 0;
  const char* piece = api_.id_to_piece(sp_.get(), id, &size);
  return piece != nullptr ? std::string_view(piece, size) : std::string_view();
}

bool SentencePieceEngine::IsControl(int32_t id) const { return api_.is_control(sp_.get(), id); }

int32_t SentencePieceEngine::BosId() const { return api_.bos_id(sp_.get()); }

int32_t SentencePieceEngine::EosId() const { return api_.eos_id(sp_.get()); }

}  // namespace liger
