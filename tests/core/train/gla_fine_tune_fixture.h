#pragma once

// The data the end-to-end fine-tuning tests train on: llama3-tiny converted to GLA, and slices of
// the shared corpora as JSONL.
#include <cstddef>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "core/convert/converter.h"
#include "core/eval/text_corpus.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/test_paths.h"

namespace liger::testing {

// Writes the first `count` documents of `corpus`, each cut to `chars` characters, as JSONL.
inline void WriteCorpusSlice(const std::string& corpus, const std::string& path, size_t count,
                             size_t chars) {
  auto texts = ReadJsonlTexts(corpus);
  ASSERT_TRUE(texts.ok()) << texts.status();
  ASSERT_GE(texts->size(), count);
  std::ofstream out(path);
  for (size_t i = 0; i < count; ++i) {
    out << nlohmann::json{{"text", (*texts)[i].substr(0, chars)}}.dump() << "\n";
  }
}

// The GLA conversion of llama3-tiny, `train_documents` training documents of `train_chars`
// characters and one evaluation document of `eval_chars`; tests make one per binary.
struct GlaFineTuneFixture {
  TempDir root;
  std::string model = root.File("llama3-tiny-gla");
  std::string train = root.File("train.jsonl");
  std::string eval = root.File("eval.jsonl");

  GlaFineTuneFixture(size_t train_documents, size_t train_chars, size_t eval_chars) {
    ConversionOptions conversion;
    conversion.variant = "gla";
    auto converted = ConvertCheckpoint(FixtureModel("llama3-tiny"), model, conversion);
    EXPECT_TRUE(converted.ok()) << converted.status();
    WriteCorpusSlice(SharedDir() + "/data/corpus-train.jsonl", train, train_documents,
                     train_chars);
    WriteCorpusSlice(SharedDir() + "/data/corpus-valid.jsonl", eval, 1, eval_chars);
  }
};

}  // namespace liger::testing
