#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/generation_options.h"
#include "core/tokenizer/tokenizer.h"
#include "liger/v1/liger.pb.h"

namespace liger::service {

// Protobuf <-> core translation of Generate's types. Range checks are core's
// (ValidateGenerationOptions); these only map fields and apply the documented defaults of unset
// optional fields.

GenerationOptions GenerationOptionsFromProto(const v1::GenerateRequest& request);

// The prompt's token ids: `token_ids` as given, or `text` encoded with the tokenizer, adding its
// special tokens as `add_special_tokens` says or, when unset, unless `continuing_session` (a
// session that already holds tokens). INVALID_ARGUMENT when no prompt is set.
absl::StatusOr<std::vector<int32_t>> PromptIdsFromProto(const v1::GenerateRequest& request,
                                                        const Tokenizer& tokenizer,
                                                        bool continuing_session);

// `with_logprobs`: the request asked for logprobs (TokenEvent's are meaningless otherwise).
void TokenEventToProto(const TokenEvent& event, bool with_logprobs, v1::GeneratedToken* token);

v1::FinishReason FinishReasonToProto(FinishReason reason);

}  // namespace liger::service
