// Encode, Decode and streamed decoding of untrusted text and ids on the fixture tokenizers:
// llama3-tiny (byte-level BPE, tokenizer.json) and mistral-tiny (SentencePiece, tokenizer.model).
// The first input byte picks the tokenizer and the mode; the rest is text or little-endian ids.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/stream_decoder.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/tokenizer/utf8.h"
#include "fuzz/fuzz_check.h"

namespace {

struct Fixture {
  std::unique_ptr<liger::Tokenizer> tokenizer;
  bool byte_level = false;       // byte-level BPE: decode(encode(text)) == text
  std::vector<int32_t> context;  // a prompt, as generation streams after one
};

Fixture Load(const char* model, bool byte_level) {
  const std::string dir = std::string(LIGER_SHARED_DIR) + "/models/" + model;
  absl::StatusOr<std::unique_ptr<liger::Tokenizer>> tokenizer = liger::LoadTokenizer(dir);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "cannot load %s: %s\n", dir.c_str(),
                 tokenizer.status().ToString().c_str());
    std::abort();
  }
  Fixture fixture{*std::move(tokenizer), byte_level, {}};
  fixture.context = *fixture.tokenizer->Encode("The answer is", true);
  return fixture;
}

const std::vector<Fixture>& Fixtures() {
  static const auto* fixtures = new std::vector<Fixture>([] {
    std::vector<Fixture> all;
    all.push_back(Load("llama3-tiny", true));
    all.push_back(Load("mistral-tiny", false));
    return all;
  }());
  return *fixtures;
}

// StreamDecoder's contract: the pieces add up to Decode(context + ids) minus Decode(context), and
// no piece ends inside a UTF-8 character.
void CheckStream(const liger::Tokenizer& tokenizer, const std::vector<int32_t>& context,
                 const std::vector<int32_t>& ids, bool skip_special) {
  liger::StreamDecoder stream(tokenizer, context, skip_special);
  std::string streamed;
  for (const int32_t id : ids) {
    absl::StatusOr<std::string> piece = stream.Push(id);
    LIGER_FUZZ_CHECK(piece.ok());
    if (!piece->empty()) {
      const auto last = static_cast<unsigned char>(piece->back());
      LIGER_FUZZ_CHECK(last < 0x80 || (last & 0xC0) == 0x80);
    }
    streamed += *piece;
  }
  absl::StatusOr<std::string> rest = stream.Finish();
  LIGER_FUZZ_CHECK(rest.ok());
  streamed += *rest;
  std::vector<int32_t> all = context;
  all.insert(all.end(), ids.begin(), ids.end());
  absl::StatusOr<std::string> full = tokenizer.Decode(all, skip_special);
  absl::StatusOr<std::string> prefix = tokenizer.Decode(context, skip_special);
  LIGER_FUZZ_CHECK(full.ok() && prefix.ok());
  LIGER_FUZZ_CHECK(full->compare(0, prefix->size(), *prefix) == 0);
  LIGER_FUZZ_CHECK(streamed == full->substr(prefix->size()));
}

void FuzzText(const Fixture& fixture, std::string_view text, bool add_special) {
  const liger::Tokenizer& t = *fixture.tokenizer;
  absl::StatusOr<std::vector<int32_t>> ids = t.Encode(text, add_special);
  if (!ids.ok()) {
    // Only ill-formed UTF-8 is refused.
    LIGER_FUZZ_CHECK(ids.status().code() == absl::StatusCode::kInvalidArgument);
    std::vector<char32_t> code_points;
    std::vector<size_t> offsets;
    LIGER_FUZZ_CHECK(!liger::DecodeUtf8(text, &code_points, &offsets));
    return;
  }
  for (const int32_t id : *ids) LIGER_FUZZ_CHECK(id >= 0 && id < t.vocab_size());
  absl::StatusOr<std::string> decoded = t.Decode(*ids, /*skip_special_tokens=*/false);
  LIGER_FUZZ_CHECK(decoded.ok());
  // Byte-level BPE is lossless (and the fixture's added tokens strip no spaces); SentencePiece
  // normalizes and maps unknown characters to <unk>, so only its BPE counterpart is exact.
  if (fixture.byte_level && !add_special) LIGER_FUZZ_CHECK(*decoded == text);
  CheckStream(t, fixture.context, *ids, /*skip_special=*/true);
}

void FuzzIds(const Fixture& fixture, const uint8_t* data, size_t size, bool skip_special) {
  const liger::Tokenizer& t = *fixture.tokenizer;
  std::vector<int32_t> ids(size / sizeof(int32_t));
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * sizeof(int32_t));
  bool in_range = true;
  for (int32_t& id : ids) {
    // Mostly ids near the vocabulary, so that most sequences decode; a few anywhere.
    if (id >= 0) id %= t.vocab_size() + 2;
    in_range = in_range && id >= 0 && id < t.vocab_size();
  }
  absl::StatusOr<std::string> decoded = t.Decode(ids, skip_special);
  if (!in_range) {
    LIGER_FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  LIGER_FUZZ_CHECK(decoded.ok());
  CheckStream(t, fixture.context, ids, skip_special);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<Fixture>& fixtures = Fixtures();
  const uint8_t mode = data[0];
  const Fixture& fixture = fixtures[mode & 1];
  const bool flag = (mode & 4) != 0;
  if (mode & 2) {
    FuzzIds(fixture, data + 1, size - 1, flag);
  } else {
    FuzzText(fixture, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), flag);
  }
  return 0;
}
