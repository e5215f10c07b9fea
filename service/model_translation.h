#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/hosting/hosted_model.h"
#include "core/hosting/model_registry.h"
#include "liger/v1/liger.pb.h"

namespace liger::service {

// Protobuf <-> core translation of the model RPCs' types.

// "" for COMPUTE_DTYPE_UNSPECIFIED (the server's default), else the name ParseComputeDType takes.
// INVALID_ARGUMENT for a value outside the enum (proto3 enums accept any number on the wire).
absl::StatusOr<std::string> DTypeNameFromProto(v1::ComputeDType dtype);
// COMPUTE_DTYPE_UNSPECIFIED for a name that is not a compute dtype.
v1::ComputeDType DTypeToProto(const std::string& name);

// "gla", "hgrn2" or "gsa"; INVALID_ARGUMENT for LIGER_VARIANT_UNSPECIFIED or an unknown value.
absl::StatusOr<std::string> LigerVariantFromProto(v1::LigerVariant variant);
// LIGER_VARIANT_UNSPECIFIED for "" (an unconverted model) or an unknown name.
v1::LigerVariant LigerVariantToProto(const std::string& variant);

absl::StatusOr<ModelLoadSpec> LoadSpecFromProto(const v1::LoadModelRequest& request);

void ModelInfoToProto(const HostedModel& model, v1::ModelInfo* info);

}  // namespace liger::service
