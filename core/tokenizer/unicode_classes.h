#pragma once

namespace liger {

// Unicode character classes as Oniguruma (the regex engine behind Hugging Face tokenizers) defines
// them for UTF-8 text: \p{L}, \p{N}, and \s (the White_Space property).
bool IsUnicodeLetter(char32_t cp);
bool IsUnicodeNumber(char32_t cp);
bool IsUnicodeWhitespace(char32_t cp);

}  // namespace liger
