#include "service/model_translation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace liger::service {

absl::StatusOr<std::string> DTypeNameFromProto(v1::ComputeDType dtype) {
  switch (dtype) {
    case v1::COMPUTE_DTYPE_UNSPECIFIED:
      return std::string();
    case v1::COMPUTE_DTYPE_FLOAT32:
      return std::string("float32");
    case v1::COMPUTE_DTYPE_BFLOAT16:
      return std::string("bfloat16");
    case v1::COMPUTE_DTYPE_FLOAT16:
      return std::string("float16");
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown dtype value ", dtype));
  }
}

v1::ComputeDType DTypeToProto(const std::string& name) {
  if (name == "float32") return v1::COMPUTE_DTYPE_FLOAT32;
  if (name == "bfloat16") return v1::COMPUTE_DTYPE_BFLOAT16;
  if (name == "float16") return v1::COMPUTE_DTYPE_FLOAT16;
  return v1::COMPUTE_DTYPE_UNSPECIFIED;
}

absl::StatusOr<std::string> LigerVariantFromProto(v1::LigerVariant variant) {
  switch (variant) {
    case v1::LIGER_VARIANT_GLA:
      return std::string("gla");
    case v1::LIGER_VARIANT_HGRN2:
      return std::string("hgrn2");
    case v1::LIGER_VARIANT_GSA:
      return std::string("gsa");
    case v1::LIGER_VARIANT_UNSPECIFIED:
      return absl::InvalidArgumentError("variant is required (gla, hgrn2 or gsa)");
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown variant value ", variant));
  }
}

v1::LigerVariant LigerVariantToProto(const std::string& variant) {
  if (variant == "gla") return v1::LIGER_VARIANT_GLA;
  if (variant == "hgrn2") return v1::LIGER_VARIANT_HGRN2;
  if (variant == "gsa") return v1::LIGER_VARIANT_GSA;
  return v1::LIGER_VARIANT_UNSPECIFIED;
}

absl::StatusOr<ModelLoadSpec> LoadSpecFromProto(const v1::LoadModelRequest& request) {
  if (request.model_dir().empty()) return absl::InvalidArgumentError("model_dir is required");
  ModelLoadSpec spec;
  spec.name = request.name();
  spec.model_dir = request.model_dir();
  LIGER_ASSIGN_OR_RETURN(spec.dtype, DTypeNameFromProto(request.dtype()));
  spec.device = request.device();
  return spec;
}

void ModelInfoToProto(const HostedModel& model, v1::ModelInfo* info) {
  const ModelConfig& config = model.config;
  info->set_name(model.name);
  info->set_model_dir(model.model_dir);
  info->set_model_type(config.model_type);
  info->set_architecture(config.architecture);
  info->set_liger_variant(config.liger ? LigerVariantToProto(config.liger->variant)
                                       : v1::LIGER_VARIANT_UNSPECIFIED);
  info->set_vocab_size(config.vocab_size);
  info->set_num_hidden_layers(config.num_hidden_layers);
  info->set_hidden_size(config.hidden_size);
  info->set_num_attention_heads(config.num_attention_heads);
  info->set_num_key_value_heads(config.num_key_value_heads);
  info->set_max_position_embeddings(config.max_position_embeddings);
  info->set_dtype(DTypeToProto(model.dtype));
  info->set_device(model.device);
  *info->mutable_loaded_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(model.loaded_at));
  // The BOS Tokenize adds is the tokenizer's; the config's is the fallback.
  const std::optional<int32_t> bos =
      model.tokenizer->bos_id() ? model.tokenizer->bos_id() : config.bos_token_id;
  if (bos) info->set_bos_token_id(*bos);
  // Generation stops at the tokenizer's EOS and at every EOS id of the config.
  std::vector<int32_t> eos_ids = config.eos_token_ids;
  if (const std::optional<int32_t> eos = model.tokenizer->eos_id(); eos) eos_ids.push_back(*eos);
  std::sort(eos_ids.begin(), eos_ids.end());
  eos_ids.erase(std::unique(eos_ids.begin(), eos_ids.end()), eos_ids.end());
  for (int32_t id : eos_ids) info->add_eos_token_ids(id);
}

}  // namespace liger::service
