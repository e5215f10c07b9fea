#include "core/convert/converter.h"

#include <sys/stat.h>

#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/convert/converted_config.h"
#include "core/convert/file_copy.h"
#include "core/convert/staging_directory.h"
#include "core/io/checkpoint_weights.h"
#include "core/io/file_util.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// Files that travel with the weights when present: what the tokenizer loaders read, the rest of a
// saved Hugging Face tokenizer (so transformers can load the output too), and generation defaults.
constexpr const char* kConvertSideFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja",
    "generation_config.json"};

constexpr size_t kConvertMaxConfigBytes = size_t{1} << 20;

}  // namespace

absl::StatusOr<ConversionResult> ConvertCheckpoint(const std::string& model_dir,
                                                   const std::string& output_dir,
                                                   const ConversionOptions& options,
                                                   const ConversionProgressCallback& progress) {
  const std::string config_path = model_dir + "/config.json";
  LIGER_ASSIGN_OR_RETURN(std::string original,
                         ReadFileToString(config_path, kConvertMaxConfigBytes));
  LIGER_ASSIGN_OR_RETURN(std::string config, ConvertedConfigJson(original, config_path, options));

  ConversionResult result;
  std::vector<std::string> files;
  {
    // Opening validates every safetensors header (and the index); the copies reread the files.
    LIGER_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointWeights> weights,
                           CheckpointWeights::Open(model_dir));
    files = weights->files();
    result.tensors_copied = static_cast<int64_t>(weights->names().size());
  }
  const size_t weight_files = files.size();
  files.insert(files.end(), std::begin(kConvertSideFiles), std::end(kConvertSideFiles));
  uint64_t total_bytes = config.size();
  std::vector<std::string> present;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string path = absl::StrCat(model_dir, "/", files[i]);
    struct stat st;
    LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(path, &st));
    if (!exists && i < weight_files) return absl::NotFoundError(absl::StrCat(path, " vanished"));
    if (!exists) continue;
    present.push_back(files[i]);
    total_bytes += static_cast<uint64_t>(st.st_size);
  }

  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<StagingDirectory> staging,
                         StagingDirectory::Create(output_dir));
  ConversionProgress step;
  step.file_count = static_cast<int>(present.size()) + 1;
  step.total_bytes = total_bytes;
  const auto report = [&progress, &step]() {
    return progress ? progress(step) : absl::OkStatus();
  };
  for (const std::string& name : present) {
    ++step.file_index;
    step.file_name = name;
    const uint64_t before = step.bytes_written;
    LIGER_RETURN_IF_ERROR(CopyFileDurably(
        absl::StrCat(model_dir, "/", name), absl::StrCat(staging->path(), "/", name),
        [&](uint64_t copied) {
          step.bytes_written = before + copied;
          return report();
        }));
    // An empty file reports no copy step.
    if (step.bytes_written == before) LIGER_RETURN_IF_ERROR(report());
  }
  ++step.file_index;
  step.file_name = "config.json";
  // The staging directory is private and Publish() syncs it, so a plain durable write suffices.
  LIGER_RETURN_IF_ERROR(WriteNewFileDurably(staging->path() + "/config.json", config));
  step.bytes_written += config.size();
  LIGER_RETURN_IF_ERROR(report());
  LIGER_RETURN_IF_ERROR(staging->Publish());

  result.output_dir = staging->final_path();
  result.files_written = step.file_count;
  result.bytes_written = step.bytes_written;
  return result;
}

}  // namespace liger
