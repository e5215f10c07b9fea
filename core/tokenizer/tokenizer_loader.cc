#include "core/tokenizer/tokenizer_loader.h"

#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/tokenizer/special_token_config.h"

namespace liger {
namespace {

namespace fs = std::filesystem;

bool IsFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

absl::StatusOr<SpecialTokenConfig> ReadConfig(const fs::path& path) {
  if (!IsFile(path)) return SpecialTokenConfig();
  absl::StatusOr<std::string> content = ReadFileToString(path.string());
  if (!content.ok()) return content.status();
  return SpecialTokenConfig::FromJson(*content, path.string());
}

template <typename T>
absl::StatusOr<std::unique_ptr<Tokenizer>> Finish(absl::StatusOr<std::unique_ptr<T>> tokenizer,
                                                  const SpecialTokenConfig& config,
                                                  const fs::path& config_path) {
  if (!tokenizer.ok()) return tokenizer.status();
  if (absl::Status s = (*tokenizer)->ApplyConfig(config); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(config_path.string(), ": ", s.message()));
  }
  return std::unique_ptr<Tokenizer>(*std::move(tokenizer));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& model_dir) {
  const fs::path dir(model_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    // Something that is there but is no directory must not be reported as missing.
    if (fs::exists(dir, ec)) {
      return absl::FailedPreconditionError(absl::StrCat(model_dir, " is not a directory"));
    }
    return absl::NotFoundError(absl::StrCat("model directory ", model_dir, " does not exist"));
  }
  const fs::path config_path = dir / "tokenizer_config.json";
  absl::StatusOr<SpecialTokenConfig> config = ReadConfig(config_path);
  if (!config.ok()) return config.status();
  if (const fs::path json_path = dir / "tokenizer.json"; IsFile(json_path)) {
    return Finish(BpeTokenizer::FromFile(json_path.string()), *config, config_path);
  }
  if (const fs::path model_path = dir / "tokenizer.model"; IsFile(model_path)) {
    return Finish(SentencePieceTokenizer::FromFile(model_path.string()), *config, config_path);
  }
  return absl::NotFoundError(absl::StrCat("no tokenizer.json or tokenizer.model in ", model_dir));
}

}  // namespace liger
