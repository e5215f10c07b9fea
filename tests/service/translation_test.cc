// Protobuf <-> core translation: models, generation, conversion and fine-tuning options.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer_loader.h"
#include "service/conversion_translation.h"
#include "service/generation_translation.h"
#include "service/job_translation.h"
#include "service/model_translation.h"
#include "tests/test_paths.h"

namespace liger::service {
namespace {

std::string TranslationTestModelDir() {
  return liger::testing::SourceDir() + "/models/llama3-tiny";
}

TEST(ModelTranslationTest, DTypesRoundTrip) {
  for (const char* name : {"float32", "bfloat16", "float16"}) {
    const v1::ComputeDType proto = DTypeToProto(name);
    EXPECT_NE(proto, v1::COMPUTE_DTYPE_UNSPECIFIED) << name;
    EXPECT_EQ(*DTypeNameFromProto(proto), name);
  }
  EXPECT_EQ(*DTypeNameFromProto(v1::COMPUTE_DTYPE_UNSPECIFIED), "");
  EXPECT_EQ(DTypeNameFromProto(static_cast<v1::ComputeDType>(77)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModelTranslationTest, LigerVariantsRoundTrip) {
  for (const char* name : {"gla", "hgrn2", "gsa"}) {
    EXPECT_EQ(*LigerVariantFromProto(LigerVariantToProto(name)), name);
  }
  EXPECT_EQ(LigerVariantToProto(""), v1::LIGER_VARIANT_UNSPECIFIED);
  EXPECT_EQ(LigerVariantFromProto(v1::LIGER_VARIANT_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LigerVariantFromProto(static_cast<v1::LigerVariant>(9)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModelTranslationTest, LoadSpecNeedsADirectoryAndAKnownDType) {
  v1::LoadModelRequest request;
  EXPECT_EQ(LoadSpecFromProto(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_model_dir("/models/x");
  request.set_name("x");
  request.set_device("cuda:1");
  request.set_dtype(v1::COMPUTE_DTYPE_BFLOAT16);
  absl::StatusOr<ModelLoadSpec> spec = LoadSpecFromProto(request);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model_dir, "/models/x");
  EXPECT_EQ(spec->name, "x");
  EXPECT_EQ(spec->device, "cuda:1");
  EXPECT_EQ(spec->dtype, "bfloat16");
  request.set_dtype(static_cast<v1::ComputeDType>(5));
  EXPECT_EQ(LoadSpecFromProto(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelTranslationTest, ModelInfoCarriesConfigAndTokenizerFacts) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(TranslationTestModelDir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  HostedModel model;
  model.name = "tiny";
  model.model_dir = "/m/tiny";
  model.dtype = "bfloat16";
  model.device = "cpu";
  model.loaded_at = absl::FromUnixSeconds(1700000000) + absl::Milliseconds(5);
  model.config.model_type = "liger_llama";
  model.config.architecture = "LlamaForCausalLM";
  model.config.vocab_size = 8192;
  model.config.num_hidden_layers = 8;
  model.config.hidden_size = 256;
  model.config.num_attention_heads = 8;
  model.config.num_key_value_heads = 2;
  model.config.max_position_embeddings = 4096;
  model.config.eos_token_ids = {7, 1};
  model.config.liger = LigerConfig();
  model.config.liger->variant = "hgrn2";
  model.tokenizer = std::move(*tokenizer);

  v1::ModelInfo info;
  ModelInfoToProto(model, &info);
  EXPECT_EQ(info.name(), "tiny");
  EXPECT_EQ(info.model_dir(), "/m/tiny");
  EXPECT_EQ(info.model_type(), "liger_llama");
  EXPECT_EQ(info.architecture(), "LlamaForCausalLM");
  EXPECT_EQ(info.liger_variant(), v1::LIGER_VARIANT_HGRN2);
  EXPECT_EQ(info.vocab_size(), 8192);
  EXPECT_EQ(info.num_hidden_layers(), 8);
  EXPECT_EQ(info.hidden_size(), 256);
  EXPECT_EQ(info.num_attention_heads(), 8);
  EXPECT_EQ(info.num_key_value_heads(), 2);
  EXPECT_EQ(info.max_position_embeddings(), 4096);
  EXPECT_EQ(info.dtype(), v1::COMPUTE_DTYPE_BFLOAT16);
  EXPECT_EQ(info.device(), "cpu");
  EXPECT_EQ(info.loaded_at().seconds(), 1700000000);
  EXPECT_EQ(info.loaded_at().nanos(), 5000000);
  ASSERT_TRUE(model.tokenizer->bos_id().has_value());
  ASSERT_TRUE(info.has_bos_token_id());
  EXPECT_EQ(info.bos_token_id(), *model.tokenizer->bos_id());
  // The config's EOS ids and the tokenizer's, sorted, without repeats.
  std::vector<int32_t> expected_eos = {1, 7};
  if (auto eos = model.tokenizer->eos_id(); eos && *eos != 1 && *eos != 7) {
    expected_eos.push_back(*eos);
    std::sort(expected_eos.begin(), expected_eos.end());
  }
  EXPECT_EQ(std::vector<int32_t>(info.eos_token_ids().begin(), info.eos_token_ids().end()),
            expected_eos);
}

TEST(GenerationTranslationTest, UnsetFieldsTakeTheDocumentedDefaults) {
  const GenerationOptions options = GenerationOptionsFromProto(v1::GenerateRequest());
  const GenerationOptions defaults;
  EXPECT_EQ(options.max_new_tokens, 128);
  EXPECT_EQ(options.max_new_tokens, defaults.max_new_tokens);
  EXPECT_EQ(options.min_new_tokens, 0);
  EXPECT_EQ(options.sampling.temperature, 0.0f);
  EXPECT_EQ(options.sampling.top_p, 1.0f);
  EXPECT_EQ(options.sampling.repetition_penalty, 1.0f);
  EXPECT_EQ(options.sampling.top_k, 0);
  EXPECT_EQ(options.sampling.seed, 0u);
  EXPECT_TRUE(options.stop.empty());
  EXPECT_FALSE(options.logprobs);
  EXPECT_TRUE(ValidateSamplingParams(options.sampling).ok());
}

TEST(GenerationTranslationTest, SetFieldsMapOneToOne) {
  v1::GenerateRequest request;
  v1::SamplingParams* sampling = request.mutable_sampling();
  sampling->set_temperature(0.7f);
  sampling->set_top_k(40);
  sampling->set_top_p(0.9f);
  sampling->set_min_p(0.05f);
  sampling->set_repetition_penalty(1.2f);
  sampling->set_presence_penalty(0.3f);
  sampling->set_frequency_penalty(0.4f);
  sampling->set_seed(99);
  request.set_max_new_tokens(0);
  request.set_min_new_tokens(0);
  request.add_stop("\n\n");
  request.add_stop("END");
  request.add_stop_token_ids(5);
  request.set_ignore_eos(true);
  request.set_logprobs(true);
  request.set_top_logprobs(3);
  const GenerationOptions options = GenerationOptionsFromProto(request);
  EXPECT_EQ(options.sampling.temperature, 0.7f);
  EXPECT_EQ(options.sampling.top_k, 40);
  EXPECT_EQ(options.sampling.top_p, 0.9f);
  EXPECT_EQ(options.sampling.min_p, 0.05f);
  EXPECT_EQ(options.sampling.repetition_penalty, 1.2f);
  EXPECT_EQ(options.sampling.presence_penalty, 0.3f);
  EXPECT_EQ(options.sampling.frequency_penalty, 0.4f);
  EXPECT_EQ(options.sampling.seed, 99u);
  EXPECT_EQ(options.max_new_tokens, 0);
  EXPECT_EQ(options.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_EQ(options.stop_token_ids, std::vector<int32_t>{5});
  EXPECT_TRUE(options.ignore_eos);
  EXPECT_TRUE(options.logprobs);
  EXPECT_EQ(options.top_logprobs, 3);
}

TEST(GenerationTranslationTest, PromptIdsFollowTheSpecialTokenDefaults) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(TranslationTestModelDir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  v1::GenerateRequest request;
  EXPECT_EQ(PromptIdsFromProto(request, **tokenizer, false).status().code(),
            absl::StatusCode::kInvalidArgument);

  request.set_text("Call me Ishmael.");
  const std::vector<int32_t> with_special = *(*tokenizer)->Encode("Call me Ishmael.", true);
  const std::vector<int32_t> without_special = *(*tokenizer)->Encode("Call me Ishmael.", false);
  ASSERT_NE(with_special, without_special);
  EXPECT_EQ(*PromptIdsFromProto(request, **tokenizer, /*continuing_session=*/false), with_special);
  EXPECT_EQ(*PromptIdsFromProto(request, **tokenizer, /*continuing_session=*/true),
            without_special);
  request.set_add_special_tokens(true);
  EXPECT_EQ(*PromptIdsFromProto(request, **tokenizer, true), with_special);
  request.set_add_special_tokens(false);
  EXPECT_EQ(*PromptIdsFromProto(request, **tokenizer, false), without_special);

  request.mutable_token_ids()->add_ids(3);
  request.mutable_token_ids()->add_ids(4);
  EXPECT_EQ(*PromptIdsFromProto(request, **tokenizer, false), (std::vector<int32_t>{3, 4}));
}

TEST(GenerationTranslationTest, TokenEventsCarryLogprobsOnlyWhenAsked) {
  TokenEvent event;
  event.token_id = 42;
  event.text_delta = "lo";
  event.logprob = -0.25f;
  event.top_logprobs = {{42, -0.25f}, {7, -1.5f}};
  v1::GeneratedToken plain;
  TokenEventToProto(event, /*with_logprobs=*/false, &plain);
  EXPECT_EQ(plain.token_id(), 42);
  EXPECT_EQ(plain.text_delta(), "lo");
  EXPECT_FALSE(plain.has_logprob());
  EXPECT_EQ(plain.top_logprobs_size(), 0);

  v1::GeneratedToken detailed;
  TokenEventToProto(event, /*with_logprobs=*/true, &detailed);
  ASSERT_TRUE(detailed.has_logprob());
  EXPECT_EQ(detailed.logprob(), -0.25f);
  ASSERT_EQ(detailed.top_logprobs_size(), 2);
  EXPECT_EQ(detailed.top_logprobs(1).token_id(), 7);
  EXPECT_EQ(detailed.top_logprobs(1).logprob(), -1.5f);
}

TEST(GenerationTranslationTest, FinishReasonsMap) {
  EXPECT_EQ(FinishReasonToProto(FinishReason::kLength), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(FinishReasonToProto(FinishReason::kStop), v1::FINISH_REASON_STOP);
  EXPECT_EQ(FinishReasonToProto(FinishReason::kEos), v1::FINISH_REASON_EOS);
  EXPECT_EQ(FinishReasonToProto(FinishReason::kCancelled), v1::FINISH_REASON_CANCELLED);
}

TEST(ConversionTranslationTest, UnsetOptionsTakeTheConverterDefaults) {
  v1::ConvertRequest request;
  request.set_model_dir("/in");
  request.set_output_dir("/out");
  request.set_variant(v1::LIGER_VARIANT_GLA);
  absl::StatusOr<ConversionOptions> options = ConversionOptionsFromProto(request);
  ASSERT_TRUE(options.ok()) << options.status();
  const ConversionOptions defaults;
  EXPECT_EQ(options->variant, "gla");
  EXPECT_EQ(options->window, defaults.window);
  EXPECT_EQ(options->mix, defaults.mix);
  EXPECT_TRUE(options->softmax_layers.empty());
}

TEST(ConversionTranslationTest, SetOptionsMapOneToOne) {
  v1::ConvertRequest request;
  request.set_model_dir("/in");
  request.set_output_dir("/out");
  request.set_variant(v1::LIGER_VARIANT_GSA);
  request.set_window(32);
  request.set_mix(0.25);
  request.add_softmax_layers(0);
  request.add_softmax_layers(8);
  absl::StatusOr<ConversionOptions> options = ConversionOptionsFromProto(request);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->variant, "gsa");
  EXPECT_EQ(options->window, 32);
  EXPECT_EQ(options->mix, 0.25);
  EXPECT_EQ(options->softmax_layers, (std::vector<int64_t>{0, 8}));
}

TEST(ConversionTranslationTest, MissingFieldsAreInvalidArguments) {
  v1::ConvertRequest request;
  request.set_variant(v1::LIGER_VARIANT_GLA);
  request.set_output_dir("/out");
  EXPECT_EQ(ConversionOptionsFromProto(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_model_dir("/in");
  request.clear_output_dir();
  EXPECT_EQ(ConversionOptionsFromProto(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_output_dir("/out");
  request.set_variant(v1::LIGER_VARIANT_UNSPECIFIED);
  EXPECT_EQ(ConversionOptionsFromProto(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConversionTranslationTest, ProgressAndResultMap) {
  ConversionProgress progress;
  progress.file_name = "model.safetensors";
  progress.file_index = 2;
  progress.file_count = 5;
  progress.bytes_written = 1000;
  progress.total_bytes = 5000;
  v1::ConvertProgress progress_proto;
  ConversionProgressToProto(progress, &progress_proto);
  EXPECT_EQ(progress_proto.file_name(), "model.safetensors");
  EXPECT_EQ(progress_proto.file_index(), 2);
  EXPECT_EQ(progress_proto.file_count(), 5);
  EXPECT_EQ(progress_proto.bytes_written(), 1000u);
  EXPECT_EQ(progress_proto.total_bytes(), 5000u);

  ConversionResult result;
  result.output_dir = "/out";
  result.tensors_copied = 75;
  result.files_written = 5;
  result.bytes_written = 5000;
  v1::ConvertResult result_proto;
  ConversionResultToProto(result, &result_proto);
  EXPECT_EQ(result_proto.output_dir(), "/out");
  EXPECT_EQ(result_proto.tensors_copied(), 75);
  EXPECT_EQ(result_proto.files_written(), 5);
  EXPECT_EQ(result_proto.bytes_written(), 5000u);
}

TEST(JobTranslationTest, UnsetFineTuneFieldsTakeTheDocumentedDefaults) {
  v1::FineTuneRequest request;
  request.set_model_dir("m");
  absl::StatusOr<FineTuneOptions> options = FineTuneOptionsFromProto(request, "bfloat16", "cuda");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->lora.rank, 8);
  EXPECT_EQ(options->lora.alpha, 8);
  EXPECT_EQ(options->lora.dropout, 0);
  EXPECT_EQ(options->lora.target_modules,
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj"}));
  EXPECT_EQ(options->learning_rate, 1e-3);
  EXPECT_EQ(options->schedule, LearningRateSchedule::kConstant);
  EXPECT_EQ(options->epochs, 2);
  EXPECT_EQ(options->micro_batch_size, 1);
  EXPECT_EQ(options->gradient_accumulation_steps, 8);
  EXPECT_EQ(options->sequence_length, 1024);
  EXPECT_EQ(options->dtype, "bfloat16");
  EXPECT_EQ(options->device, "cuda");
  EXPECT_NE(options->seed, 0u);  // a random seed, recorded so a resumed run reuses it
  EXPECT_EQ(options->distill_weight, 0);
}

TEST(JobTranslationTest, FineTuneOptionsRoundTrip) {
  FineTuneOptions options;
  options.model_dir = "m";
  options.output_dir = "o";
  options.train_data = "t.jsonl";
  options.eval_data = "v.jsonl";
  options.lora.rank = 4;
  options.lora.alpha = 16;
  options.lora.dropout = 0.25;
  options.lora.target_modules = {"q_proj", "o_proj"};
  options.learning_rate = 2e-4;
  options.schedule = LearningRateSchedule::kCosine;
  options.warmup_steps = 3;
  options.epochs = 1;
  options.max_steps = 7;
  options.micro_batch_size = 2;
  options.gradient_accumulation_steps = 4;
  options.sequence_length = 256;
  options.eval_every_steps = 5;
  options.save_every_steps = 6;
  options.dtype = "float32";
  options.device = "cpu";
  options.seed = 42;
  options.distill_weight = 0.5;
  options.activation_checkpointing = true;
  options.data_parallel_ranks = 4;
  v1::FineTuneRequest request;
  FineTuneOptionsToProto(options, &request);
  absl::StatusOr<FineTuneOptions> back = FineTuneOptionsFromProto(request, "bfloat16", "cuda");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->model_dir, "m");
  EXPECT_EQ(back->output_dir, "o");
  EXPECT_EQ(back->train_data, "t.jsonl");
  EXPECT_EQ(back->eval_data, "v.jsonl");
  EXPECT_EQ(back->lora.rank, 4);
  EXPECT_EQ(back->lora.alpha, 16);
  EXPECT_EQ(back->lora.dropout, 0.25);
  EXPECT_EQ(back->lora.target_modules, options.lora.target_modules);
  EXPECT_EQ(back->learning_rate, 2e-4);
  EXPECT_EQ(back->schedule, LearningRateSchedule::kCosine);
  EXPECT_EQ(back->warmup_steps, 3);
  EXPECT_EQ(back->epochs, 1);
  EXPECT_EQ(back->max_steps, 7);
  EXPECT_EQ(back->micro_batch_size, 2);
  EXPECT_EQ(back->gradient_accumulation_steps, 4);
  EXPECT_EQ(back->sequence_length, 256);
  EXPECT_EQ(back->eval_every_steps, 5);
  EXPECT_EQ(back->save_every_steps, 6);
  EXPECT_EQ(back->dtype, "float32");
  EXPECT_EQ(back->device, "cpu");
  EXPECT_EQ(back->seed, 42u);
  EXPECT_EQ(back->distill_weight, 0.5);
  EXPECT_TRUE(back->activation_checkpointing);
  EXPECT_EQ(back->data_parallel_ranks, 4);
  request.clear_data_parallel_ranks();  // unset: one rank
  back = FineTuneOptionsFromProto(request, "bfloat16", "cuda");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->data_parallel_ranks, 1);
}

TEST(JobTranslationTest, ProgressCarriesTheDistillKlOnlyWhenDistilling) {
  JobSnapshot job;
  job.id = "j";
  job.progress.distill_kl = 0.25;
  v1::Job proto;
  JobSnapshotToProto(job, &proto);
  ASSERT_TRUE(proto.progress().has_distill_kl());
  EXPECT_EQ(proto.progress().distill_kl(), 0.25);
  job.progress.distill_kl.reset();
  proto.Clear();
  JobSnapshotToProto(job, &proto);
  EXPECT_FALSE(proto.progress().has_distill_kl());
}

TEST(JobTranslationTest, UnknownEnumValuesAreInvalidArguments) {
  v1::FineTuneRequest request;
  request.set_schedule(static_cast<v1::LearningRateSchedule>(99));
  EXPECT_EQ(FineTuneOptionsFromProto(request, "float32", "cpu").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobStateFilterFromProto(static_cast<v1::JobState>(99)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace liger::service
