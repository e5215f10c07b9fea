#include "service/conversion_translation.h"

#include "core/util/status_macros.h"
#include "service/model_translation.h"

namespace liger::service {

absl::StatusOr<ConversionOptions> ConversionOptionsFromProto(const v1::ConvertRequest& request) {
  if (request.model_dir().empty()) return absl::InvalidArgumentError("model_dir is required");
  if (request.output_dir().empty()) return absl::InvalidArgumentError("output_dir is required");
  ConversionOptions options;
  LIGER_ASSIGN_OR_RETURN(options.variant, LigerVariantFromProto(request.variant()));
  if (request.has_window()) options.window = request.window();
  if (request.has_mix()) options.mix = request.mix();
  options.softmax_layers.assign(request.softmax_layers().begin(), request.softmax_layers().end());
  return options;
}

void ConversionProgressToProto(const ConversionProgress& progress, v1::ConvertProgress* proto) {
  proto->set_file_name(progress.file_name);
  proto->set_file_index(progress.file_index);
  proto->set_file_count(progress.file_count);
  proto->set_bytes_written(progress.bytes_written);
  proto->set_total_bytes(progress.total_bytes);
}

void ConversionResultToProto(const ConversionResult& result, v1::ConvertResult* proto) {
  proto->set_output_dir(result.output_dir);
  proto->set_tensors_copied(result.tensors_copied);
  proto->set_files_written(result.files_written);
  proto->set_bytes_written(result.bytes_written);
}

}  // namespace liger::service
