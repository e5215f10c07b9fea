// OpenAI-style request bodies to core options, and responses, events and errors back to JSON.
#include "service/http/openai_translation.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace liger::service::http {
namespace {

using Json = nlohmann::json;

TEST(ParseCompletionRequestTest, TakesOpenAiFieldsAndDefaults) {
  auto request = ParseCompletionRequest(
      R"({"model": "m", "prompt": "Hi", "max_tokens": 5, "temperature": 0.5, "top_p": 0.9,
          "seed": 7, "stop": ["\n", "END"], "presence_penalty": 0.1, "stream": true,
          "user": "ignored"})",
      /*chat=*/false);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->model, "m");
  EXPECT_EQ(request->prompt, "Hi");
  EXPECT_TRUE(request->stream);
  EXPECT_EQ(request->options.max_new_tokens, 5);
  EXPECT_FLOAT_EQ(request->options.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(request->options.sampling.top_p, 0.9f);
  EXPECT_EQ(request->options.sampling.seed, 7u);
  EXPECT_EQ(request->options.stop, (std::vector<std::string>{"\n", "END"}));

  auto defaults = ParseCompletionRequest(R"({"prompt": "Hi", "stop": "x"})", false);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.max_new_tokens, 16);
  EXPECT_FLOAT_EQ(defaults->options.sampling.temperature, 1.0f);
  EXPECT_FALSE(defaults->stream);
  EXPECT_EQ(defaults->options.stop, std::vector<std::string>{"x"});
}

TEST(ParseCompletionRequestTest, RendersChatMessagesAsATranscript) {
  auto request = ParseCompletionRequest(
      R"({"messages": [{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": "Hello"}], "max_completion_tokens": 3})",
      /*chat=*/true);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->prompt, "System: Be brief.\nUser: Hello\nAssistant:");
  EXPECT_EQ(request->options.max_new_tokens, 3);
}

TEST(ParseCompletionRequestTest, NamesTheFieldThatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "JSON object"},
      {"[1, 2]", "JSON object"},
      {R"({"max_tokens": 4})", "prompt"},
      {R"({"prompt": ""})", "prompt"},
      {R"({"prompt": ["a", "b"]})", "prompt"},
      {R"({"prompt": "a", "max_tokens": -1})", "max_tokens"},
      {R"({"prompt": "a", "max_tokens": 1.5})", "max_tokens"},
      {R"({"prompt": "a", "temperature": "hot"})", "temperature"},
      {R"({"prompt": "a", "temperature": 3})", "temperature"},
      {R"({"prompt": "a", "top_p": 0})", "top_p"},
      // Found by fuzz/request_fuzzer: positive, but 0 once a float, which sampling then refused.
      {R"({"prompt": "a", "top_p": 1e-50})", "top_p"},
      {R"({"prompt": "a", "n": 2})", "\"n\""},
      {R"({"prompt": "a", "stop": 3})", "stop"},
      {R"({"prompt": "a", "stream": "yes"})", "stream"},
      {R"({"prompt": "a", "model": 1})", "model"},
  };
  for (const auto& [body, field] : cases) {
    auto request = ParseCompletionRequest(body, /*chat=*/false);
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_NE(request.status().message().find(field), std::string::npos) << request.status();
  }
  for (const char* body : {R"({"prompt": "a"})", R"({"messages": []})",
                           R"({"messages": [{"role": "user"}]})",
                           R"({"messages": [{"role": "", "content": "x"}]})"}) {
    EXPECT_EQ(ParseCompletionRequest(body, /*chat=*/true).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(OpenAiJsonTest, ChunksAndResponsesHaveOpenAisShape) {
  const CompletionIdentity identity{"cmpl-1", "tiny", 123};
  GenerationEnd end;
  end.finish_reason = FinishReason::kEos;
  end.usage.prompt_tokens = 3;
  end.usage.generated_tokens = 2;

  const Json chunk = Json::parse(ChunkJson(identity, /*chat=*/false, "Hi"));
  EXPECT_EQ(chunk["object"], "text_completion");
  EXPECT_EQ(chunk["choices"][0]["text"], "Hi");
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
  const Json chat_chunk = Json::parse(ChunkJson(identity, /*chat=*/true, "Hi"));
  EXPECT_EQ(chat_chunk["object"], "chat.completion.chunk");
  EXPECT_EQ(chat_chunk["choices"][0]["delta"]["content"], "Hi");

  const Json final_chunk = Json::parse(FinalChunkJson(identity, false, end));
  EXPECT_EQ(final_chunk["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(final_chunk["usage"]["total_tokens"], 5);
  const Json whole = Json::parse(CompletionJson(identity, /*chat=*/true, "Hi there", end));
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["choices"][0]["message"]["content"], "Hi there");
  EXPECT_EQ(whole["id"], "cmpl-1");
  EXPECT_EQ(whole["created"], 123);
}

TEST(OpenAiJsonTest, ErrorsMapToHttpStatusesAndOpenAiBodies) {
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(absl::FailedPreconditionError("x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("x")), 429);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("x")), 500);
  const Json error = Json::parse(ErrorJson(absl::NotFoundError("no model named \"m\"")));
  EXPECT_EQ(error["error"]["code"], "NOT_FOUND");
  EXPECT_EQ(error["error"]["type"], "invalid_request_error");
  EXPECT_EQ(error["error"]["message"], "no model named \"m\"");
}

TEST(OpenAiJsonTest, ModelFromAnOptionalBody) {
  EXPECT_EQ(*ModelFromBody(""), "");
  EXPECT_EQ(*ModelFromBody("{}"), "");
  EXPECT_EQ(*ModelFromBody(R"({"model": "tiny"})"), "tiny");
  EXPECT_EQ(ModelFromBody("{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ModelFromBody(R"({"model": 3})").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace liger::service::http
