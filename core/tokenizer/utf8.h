#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace liger {

// U+FFFD REPLACEMENT CHARACTER, which lossy decoding substitutes for ill-formed bytes.
inline constexpr char kUtf8Replacement[] = "\xEF\xBF\xBD";

// Decodes UTF-8 into code points and the byte offset where each starts (offsets has one extra
// entry, text.size()). Returns false on malformed UTF-8 (overlong, surrogate, truncated...).
bool DecodeUtf8(std::string_view text, std::vector<char32_t>* code_points,
                std::vector<size_t>* offsets);

void AppendUtf8(char32_t cp, std::string* out);

// Converts bytes to valid UTF-8 the way Rust's String::from_utf8_lossy does: each maximal subpart
// of an ill-formed sequence becomes one U+FFFD.
std::string Utf8Lossy(std::string_view bytes);

}  // namespace liger
