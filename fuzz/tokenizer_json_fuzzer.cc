// tokenizer.json loading: the whole input is the file. A file that loads must then encode and
// decode a fixed text without error.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/tokenizer/bpe_tokenizer.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::unique_ptr<liger::BpeTokenizer>> tokenizer =
      liger::BpeTokenizer::FromJson(json);
  if (!tokenizer.ok()) return 0;
  const liger::BpeTokenizer& t = **tokenizer;
  // Words, digits, punctuation, whitespace runs, multi-byte characters and an added token's look.
  constexpr std::string_view kText =
      "Hello world, it's 2026!\n\n  <|end_of_text|> caf\u00e9 \u6c49\u5b57 \xf0\x9f\x99\x82";
  for (const bool add_special : {false, true}) {
    absl::StatusOr<std::vector<int32_t>> ids = t.Encode(kText, add_special);
    // A loaded vocabulary may lack what the text needs (no byte-level alphabet): an error, then.
    if (!ids.ok()) continue;
    for (const int32_t id : *ids) LIGER_FUZZ_CHECK(id >= 0 && id < t.vocab_size());
    // Every id Encode produced has text to decode to.
    LIGER_FUZZ_CHECK(t.Decode(*ids, false).ok());
    LIGER_FUZZ_CHECK(t.Decode(*ids, true).ok());
  }
  return 0;
}
