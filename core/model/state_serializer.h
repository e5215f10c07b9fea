#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/model_state.h"
#include "core/model/transformer.h"

namespace liger {

// Saves a sequence's ModelState to bytes and restores it, so a session can be parked, moved to
// another replica or survive a restart, and continue exactly where it stopped.
//
// Format, version 2 (integers little-endian). Version 1 held Liger memories per query head; version
// 2 holds them per KV head (as NewState does), and version 1 is refused.
//   magic     8 bytes, kStateMagic
//   version   u32, kStateFormatVersion
//   header    u32 byte length, then that much JSON:
//               {"model": fingerprint, "tokens": N,
//                "layers": [{"kind": "liger" | "kv_cache", "integers": {name: int},
//                            "tensors": [{"name", "dtype": "F32" | "BF16" | "F16", "shape"}]}]}
//             The fingerprint holds what fixes the state's shape and meaning: model_type, layer,
//             head and width counts, rope, sliding_window and the Liger settings (variant, window,
//             gsa_slots, softmax_layers, mix, gate_normalizer); not chunk_size, which changes only
//             how prefill computes, nor the weights themselves.
//   data      every tensor of every layer in header order, raw row-major bytes in the host's
//             (little-endian) order, only valid data: a KV cache's used length, not its capacity
//   checksum  u32 CRC-32C of everything before it
// Magic, version and the trailing checksum keep their places in every version.
//
// RestoreState checks the checksum before anything else, so any corruption or truncation of a
// saved state reads as DATA_LOSS (only a damaged magic reads as "not a state"). Errors:
//   INVALID_ARGUMENT     no magic (not a state), or a version number this build never wrote
//   DATA_LOSS            truncated, checksum mismatch, malformed header, or tensor names, shapes,
//                        sizes or counters inconsistent with the header, the data or the model
//   FAILED_PRECONDITION  a newer format version (upgrade to read it), version 1, or a state saved from a
//                        model whose fingerprint differs; the message names each differing field
// Restored tensors live on the model's device in the dtypes its NewState() uses, so a state saved
// by a float32 CPU replica resumes on a bfloat16 GPU one (rounded to bfloat16). Every size is
// checked against the bytes actually present before anything is allocated.
inline constexpr absl::string_view kStateMagic = "LIGERSTA";
inline constexpr uint32_t kStateFormatVersion = 2;

// Serializes `state`, which must come from `model`'s NewState(). FAILED_PRECONDITION when the
// state is inconsistent (a failed Prefill/DecodeStep left its layers at different token counts).
absl::StatusOr<std::string> SerializeState(const Transformer& model, const ModelState& state);

// Rebuilds a state saved by SerializeState for `model` (see the format comment for errors).
absl::StatusOr<std::unique_ptr<ModelState>> RestoreState(const Transformer& model,
                                                         absl::string_view bytes);

}  // namespace liger
