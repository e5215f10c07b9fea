// libliger_sentencepiece.so: the C interface of sentencepiece_shim.h over libsentencepiece. It
// includes no abseil header: Debian's sentencepiece_processor.h declares its own absl::string_view.
// Nothing here may throw across the C boundary, and ids are range-checked because
// libsentencepiece indexes its pieces unchecked.

#include "core/tokenizer/sentencepiece_shim.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

struct LigerSentencePiece {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

// The buffers are malloc'd here and freed by liger_sp_free, so allocation and release always
// bind to the same allocator, whatever the host process interposes.
char* CopyMessage(std::string_view message) {
  char* out = static_cast<char*>(std::malloc(message.size() + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, message.data(), message.size());
  out[message.size()] = '\0';
  return out;
}

int Fail(std::string_view message, char** error) {
  *error = CopyMessage(message);
  return 0;
}

template <typename T>
T* Allocate(size_t count) {
  // Never malloc(0): success must come with a non-null buffer.
  void* out = std::malloc(std::max<size_t>(count, 1) * sizeof(T));
  if (out == nullptr) throw std::bad_alloc();
  return static_cast<T*>(out);
}

bool InRange(const LigerSentencePiece* sp, int32_t id) {
  return id >= 0 && id < sp->processor.GetPieceSize();
}

}  // namespace

extern "C" {

LigerSentencePiece* liger_sp_create(const char* model, size_t model_size, char** error) {
  try {
    auto sp = std::make_unique<LigerSentencePiece>();
    const sentencepiece::util::Status status =
        sp->processor.LoadFromSerializedProto(std::string_view(model, model_size));
    if (!status.ok()) {
      Fail(status.ToString(), error);
      return nullptr;
    }
    return sp.release();
  } catch (const std::exception& e) {
    Fail(e.what(), error);
    return nullptr;
  }
}

void liger_sp_destroy(LigerSentencePiece* sp) { delete sp; }

void liger_sp_free(void* buffer) { std::free(buffer); }

int liger_sp_encode(const LigerSentencePiece* sp, const char* text, size_t text_size, int32_t** ids,
                    size_t* num_ids, char** error) {
  try {
    std::vector<int> pieces;
    const sentencepiece::util::Status status =
        sp->processor.Encode(std::string_view(text, text_size), &pieces);
    if (!status.ok()) return Fail(status.ToString(), error);
    int32_t* out = Allocate<int32_t>(pieces.size());
    std::copy(pieces.begin(), pieces.end(), out);
    *ids = out;
    *num_ids = pieces.size();
    return 1;
  } catch (const std::exception& e) {
    return Fail(e.what(), error);
  }
}

int liger_sp_decode(const LigerSentencePiece* sp, const int32_t* ids, size_t num_ids, char** text,
                    size_t* text_size, char** error) {
  try {
    for (size_t i = 0; i < num_ids; ++i) {
      if (!InRange(sp, ids[i])) {
        // snprintf, not std::to_string, which would export a GNU-unique symbol.
        char message[64];
        std::snprintf(message, sizeof(message), "id %" PRId32 " is out of range", ids[i]);
        return Fail(message, error);
      }
    }
    std::string decoded;
    const sentencepiece::util::Status status =
        sp->processor.Decode(std::vector<int>(ids, ids + num_ids), &decoded);
    if (!status.ok()) return Fail(status.ToString(), error);
    char* out = Allocate<char>(decoded.size());
    std::memcpy(out, decoded.data(), decoded.size());
    *text = out;
    *text_size = decoded.size();
    return 1;
  } catch (const std::exception& e) {
    return Fail(e.what(), error);
  }
}

int32_t liger_sp_piece_size(const LigerSentencePiece* sp) { return sp->processor.GetPieceSize(); }

int32_t liger_sp_piece_to_id(const LigerSentencePiece* sp, const char* piece, size_t piece_size) {
  return sp->processor.PieceToId(std::string_view(piece, piece_size));
}

const char* liger_sp_id_to_piece(const LigerSentencePiece* sp, int32_t id, size_t* piece_size) {
  if (!InRange(sp, id)) {
    *piece_size = 0;
    return nullptr;
  }
  const std::string& piece = sp->processor.IdToPiece(id);
  *piece_size = piece.size();
  return piece.data();
}

int liger_sp_is_control(const LigerSentencePiece* sp, int32_t id) {
  return InRange(sp, id) && sp->processor.IsControl(id);
}

int liger_sp_is_unknown(const LigerSentencePiece* sp, int32_t id) {
  return InRange(sp, id) && sp->processor.IsUnknown(id);
}

int32_t liger_sp_bos_id(const LigerSentencePiece* sp) { return sp->processor.bos_id(); }

int32_t liger_sp_eos_id(const LigerSentencePiece* sp) { return sp->processor.eos_id(); }

}  // extern "C"
