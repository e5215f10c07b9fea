// Untrusted Generate requests as both fronts receive them: the first input byte picks the front,
// the rest is a serialized liger.v1.GenerateRequest (gRPC) or a /v1/completions or
// /v1/chat/completions JSON body (HTTP). Each goes through the translation to core types and the
// validation that runs before any generation.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/engine/generation_options.h"
#include "core/engine/sampling_params.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/stubs/logging.h"
#include "liger/v1/liger.pb.h"
#include "nlohmann/json.hpp"
#include "service/generation_translation.h"
#include "service/http/openai_translation.h"

namespace {

const liger::Tokenizer& FixtureTokenizer() {
  static const liger::Tokenizer* tokenizer = [] {
    const std::string dir = std::string(LIGER_SHARED_DIR) + "/models/llama3-tiny";
    absl::StatusOr<std::unique_ptr<liger::Tokenizer>> loaded = liger::LoadTokenizer(dir);
    if (!loaded.ok()) {
      std::fprintf(stderr, "cannot load %s: %s\n", dir.c_str(), loaded.status().ToString().c_str());
      std::abort();
    }
    return loaded->release();
  }();
  return *tokenizer;
}

// Requests are refused with INVALID_ARGUMENT, never anything else.
void CheckRefusal(const absl::Status& status) {
  LIGER_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
}

// What the service checks before it generates: the options against the model's vocabulary, the
// sampling parameters (Sampler::Create) and the prompt.
void Validate(const liger::GenerationOptions& options, const liger::Tokenizer& tokenizer) {
  const absl::Status options_status =
      liger::ValidateGenerationOptions(options, tokenizer.vocab_size());
  if (!options_status.ok()) CheckRefusal(options_status);
  const absl::Status sampling_status = liger::ValidateSamplingParams(options.sampling);
  if (!sampling_status.ok()) CheckRefusal(sampling_status);
}

void FuzzGrpc(const uint8_t* data, size_t size) {
  liger::v1::GenerateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  const liger::Tokenizer& tokenizer = FixtureTokenizer();
  Validate(liger::service::GenerationOptionsFromProto(request), tokenizer);
  for (const bool continuing : {false, true}) {
    absl::StatusOr<std::vector<int32_t>> ids =
        liger::service::PromptIdsFromProto(request, tokenizer, continuing);
    if (!ids.ok()) CheckRefusal(ids.status());
  }
}

void FuzzHttp(absl::string_view body, bool chat) {
  absl::StatusOr<liger::service::http::CompletionRequest> request =
      liger::service::http::ParseCompletionRequest(body, chat);
  absl::StatusOr<std::string> model = liger::service::http::ModelFromBody(body);
  if (!model.ok()) CheckRefusal(model.status());
  if (!request.ok()) {
    CheckRefusal(request.status());
    // The error body echoes parts of the request; it must still be JSON.
    LIGER_FUZZ_CHECK(liger::service::http::HttpStatusFor(request.status()) == 400);
    const std::string error = liger::service::http::ErrorJson(request.status());
    LIGER_FUZZ_CHECK(nlohmann::json::accept(error));
    return;
  }
  LIGER_FUZZ_CHECK(request->chat == chat && !request->prompt.empty());
  // ParseCompletionRequest range-checks every sampling field it sets.
  LIGER_FUZZ_CHECK(liger::ValidateSamplingParams(request->options.sampling).ok());
  Validate(request->options, FixtureTokenizer());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Parsing logs every string field holding invalid UTF-8; the failed parse is what matters.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t front = data[0] % 3;
  if (front == 0) {
    FuzzGrpc(data + 1, size - 1);
  } else {
    FuzzHttp(absl::string_view(reinterpret_cast<const char*>(data + 1), size - 1), front == 2);
  }
  return 0;
}
