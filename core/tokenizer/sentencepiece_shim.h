#pragma once

// The C interface of libliger_sentencepiece.so, the shim through which liger reaches
// libsentencepiece. SentencePieceLibrary opens it with dlopen, so libsentencepiece and the
// protobuf-lite it embeds and exports stay out of the process's global symbol scope (see
// sentencepiece_library.h). Plain C types only: no C++ ABI crosses the boundary.
//
// Buffers the shim hands out are freed with liger_sp_free. Functions that can fail return 1 on
// success and 0 on failure, with *error set to a message (null if even that allocation failed).

#include <stddef.h>
#include <stdint.h>

#define LIGER_SP_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

typedef struct LigerSentencePiece LigerSentencePiece;

// A processor for a serialized ModelProto (the bytes of tokenizer.model); null on failure.
LIGER_SP_EXPORT LigerSentencePiece* liger_sp_create(const char* model, size_t model_size,
                                                    char** error);
LIGER_SP_EXPORT void liger_sp_destroy(LigerSentencePiece* sp);
LIGER_SP_EXPORT void liger_sp_free(void* buffer);

// *ids receives *num_ids ids.
LIGER_SP_EXPORT int liger_sp_encode(const LigerSentencePiece* sp, const char* text,
                                    size_t text_size, int32_t** ids, size_t* num_ids, char** error);
// *text receives *text_size bytes (not NUL-terminated).
LIGER_SP_EXPORT int liger_sp_decode(const LigerSentencePiece* sp, const int32_t* ids,
                                    size_t num_ids, char** text, size_t* text_size, char** error);

LIGER_SP_EXPORT int32_t liger_sp_piece_size(const LigerSentencePiece* sp);
// The unknown piece's id for a piece the model lacks.
LIGER_SP_EXPORT int32_t liger_sp_piece_to_id(const LigerSentencePiece* sp, const char* piece,
                                             size_t piece_size);
// The piece's bytes, owned by sp; null and size 0 for an id out of range.
LIGER_SP_EXPORT const char* liger_sp_id_to_piece(const LigerSentencePiece* sp, int32_t id,
                                                 size_t* piece_size);
// 0 for an id out of range.
LIGER_SP_EXPORT int liger_sp_is_control(const LigerSentencePiece* sp, int32_t id);
LIGER_SP_EXPORT int liger_sp_is_unknown(const LigerSentencePiece* sp, int32_t id);
// -1 if the model has no such token.
LIGER_SP_EXPORT int32_t liger_sp_bos_id(const LigerSentencePiece* sp);
LIGER_SP_EXPORT int32_t liger_sp_eos_id(const LigerSentencePiece* sp);

#ifdef __cplusplus
}  // extern "C"
#endif
