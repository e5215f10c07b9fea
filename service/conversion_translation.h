#pragma once

#include "absl/status/statusor.h"
#include "core/convert/converter.h"
#include "liger/v1/liger.pb.h"

namespace liger::service {

// Protobuf <-> core translation of Convert's types. Range checks are the converter's; unset
// optional fields take ConversionOptions' defaults, as `liger convert` does.

// INVALID_ARGUMENT for a missing or unknown variant, or empty model_dir or output_dir.
absl::StatusOr<ConversionOptions> ConversionOptionsFromProto(const v1::ConvertRequest& request);

void ConversionProgressToProto(const ConversionProgress& progress, v1::ConvertProgress* proto);
void ConversionResultToProto(const ConversionResult& result, v1::ConvertResult* proto);

}  // namespace liger::service
