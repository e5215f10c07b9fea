#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/model_config.h"

namespace liger {

// Conversion adds no parameters, so its options are exactly what the converted config.json records
// in its "liger" object.
using ConversionOptions = LigerConfig;

// One step of a conversion: reported after each file, and every 256 MiB within large files.
struct ConversionProgress {
  std::string file_name;  // relative to the output directory
  int file_index = 0;     // 1-based, of file_count (config.json is written last)
  int file_count = 0;
  uint64_t bytes_written = 0;  // over all files so far
  uint64_t total_bytes = 0;
};

// A non-OK status stops the conversion (e.g. when the client that asked for it has gone); the
// partial output is removed and the status returned.
using ConversionProgressCallback = std::function<absl::Status(const ConversionProgress&)>;

struct ConversionResult {
  std::string output_dir;
  int64_t tensors_copied = 0;
  int files_written = 0;
  uint64_t bytes_written = 0;
};

// Converts the Hugging Face checkpoint in `model_dir` into a Liger checkpoint at `output_dir`: the
// config.json as ConvertedConfigJson writes it, the weights (model.safetensors, or the shards and
// their index) copied byte for byte, and the tokenizer and generation files that are present.
// The input is validated first (config.json, options, every safetensors header); errors are those
// of ReadFileToString, ConvertedConfigJson (INVALID_ARGUMENT naming the field) and
// CheckpointWeights::Open. ALREADY_EXISTS if `output_dir` exists, which is left untouched. The
// output is built in a temporary sibling directory and renamed into place, so on any failure
// `output_dir` never appears and nothing is left behind.
absl::StatusOr<ConversionResult> ConvertCheckpoint(
    const std::string& model_dir, const std::string& output_dir, const ConversionOptions& options,
    const ConversionProgressCallback& progress = nullptr);

}  // namespace liger
