#include "core/engine/generator.h"

#include <cmath>
#include <limits>
#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/engine/generation_stream.h"
#include "core/engine/step_logits.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "tests/core/engine/fake_causal_lm.h"
#include "tests/core/engine/fake_tokenizer.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

using ::liger::testing::FakeCausalLM;
using ::liger::testing::FakeState;
using ::liger::testing::FakeTokenizer;

// Token ids of the fake vocabulary.
enum : int32_t {
  kBos = 0, kEos = 1, kA = 2, kB = 3, kC = 4, kSpace = 5, kSt = 6, kOp = 7,
  kUtf8Lead = 8, kUtf8Tail = 9, kX = 10, kEot = 11, kNewline = 12, kD = 13, kE = 14, kF = 15,
  kVocab = 16
};

FakeTokenizer MakeTokenizer() {
  return FakeTokenizer({"<s>", "</s>", "a", "b", "c", " ", "ST", "OP", "\xC3", "\xA9", "x", "<eot>",
                        "\n", "d", "e", "f"},
                       {kBos, kEos, kEot}, kBos, kEos);
}

// A model whose greedy choice after `from` is `to` for each listed edge; other rows are flat.
FakeCausalLM Chain(std::initializer_list<std::pair<int32_t, int32_t>> edges) {
  std::vector<int32_t> successor(kVocab, -1);
  for (const auto& [from, to] : edges) successor[from] = to;
  return FakeCausalLM(successor, /*eos_token_ids=*/{kEot});
}

GenerationOptions Greedy(int max_new_tokens) {
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  return options;
}

struct Outcome {
  absl::StatusOr<GenerationResult> result;
  std::vector<TokenEvent> events;
  std::string deltas;
};

// Generates, recording the events; the callback cancels once `cancel_at` events were seen.
Outcome RunGenerate(const CausalLM& model, const Tokenizer& tokenizer, ModelState& state,
             const std::vector<int32_t>& prompt, const GenerationOptions& options,
             size_t cancel_at = 0) {
  Outcome run;
  run.result = liger::Generate(model, tokenizer, state, prompt, options, [&](const TokenEvent& e) {
    run.events.push_back(e);
    run.deltas += e.text_delta;
    return run.events.size() != cancel_at;
  });
  return run;
}

std::vector<int32_t> Seen(const ModelState& state) {
  return dynamic_cast<const FakeState&>(state).seen;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string Decoded(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  absl::StatusOr<std::string> text = tokenizer.Decode(ids, /*skip_special_tokens=*/true);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.value_or("");
}

TEST(GenerateTest, GreedyFollowsArgmaxAndTheStateConsumesPromptAndOutput) {
  const FakeCausalLM model = Chain({{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, Greedy(5));
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  const GenerationResult& r = *run.result;

  std::vector<int32_t> expected;
  int32_t last = kBos;
  for (int i = 0; i < 5; ++i) {
    last = static_cast<int32_t>(model.Row(last).argmax().item<int64_t>());
    expected.push_back(last);
  }
  EXPECT_EQ(r.tokens, expected);
  EXPECT_EQ(r.finish_reason, FinishReason::kLength);
  EXPECT_EQ(r.prompt_tokens, 1);
  EXPECT_EQ(r.generated_tokens, 5);
  EXPECT_EQ(Seen(*state), Concat({kBos}, r.tokens));
  ASSERT_EQ(run.events.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(run.events[i].token_id, r.tokens[i]);
  EXPECT_EQ(r.text, Decoded(tokenizer, r.tokens));
  EXPECT_EQ(r.text, "abcab");
  EXPECT_EQ(run.deltas, r.text);
}

TEST(GenerateTest, EosStopsUnlessIgnored) {
  const FakeCausalLM model = Chain({{kBos, kA}, {kA, kB}, {kB, kEos}, {kEos, kC}, {kC, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome stopped = RunGenerate(model, tokenizer, *state, {kBos}, Greedy(10));
  ASSERT_TRUE(stopped.result.ok()) << stopped.result.status();
  EXPECT_EQ(stopped.result->tokens, (std::vector<int32_t>{kA, kB, kEos}));
  EXPECT_EQ(stopped.result->finish_reason, FinishReason::kEos);
  EXPECT_EQ(stopped.result->text, "ab");
  EXPECT_EQ(Seen(*state), (std::vector<int32_t>{kBos, kA, kB, kEos}));
  ASSERT_EQ(stopped.events.size(), 3u);
  EXPECT_EQ(stopped.events[2].token_id, kEos);
  EXPECT_EQ(stopped.events[2].text_delta, "");

  GenerationOptions options = Greedy(6);
  options.ignore_eos = true;
  auto state2 = model.NewState();
  const Outcome ignored = RunGenerate(model, tokenizer, *state2, {kBos}, options);
  ASSERT_TRUE(ignored.result.ok()) << ignored.result.status();
  EXPECT_EQ(ignored.result->tokens, (std::vector<int32_t>{kA, kB, kEos, kC, kA, kB}));
  EXPECT_EQ(ignored.result->finish_reason, FinishReason::kLength);
  EXPECT_EQ(ignored.result->text, Decoded(tokenizer, ignored.result->tokens));
  EXPECT_EQ(ignored.deltas, ignored.result->text);
}

TEST(GenerateTest, ModelConfigEosIdsStopToo) {
  const FakeCausalLM model = Chain({{kBos, kA}, {kA, kEot}, {kEot, kB}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, Greedy(10));
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.result->tokens, (std::vector<int32_t>{kA, kEot}));
  EXPECT_EQ(run.result->finish_reason, FinishReason::kEos);
}

TEST(GenerateTest, StopTokenIdsStopWithoutEmittingTheirText) {
  const FakeCausalLM model = Chain({{kBos, kA}, {kA, kX}, {kX, kB}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions options = Greedy(10);
  options.stop_token_ids = {kX};
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, options);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.result->tokens, (std::vector<int32_t>{kA, kX}));
  EXPECT_EQ(run.result->finish_reason, FinishReason::kStop);
  EXPECT_EQ(run.result->text, "a");
  EXPECT_EQ(run.deltas, "a");
  EXPECT_EQ(Seen(*state), (std::vector<int32_t>{kBos, kA, kX}));
}

TEST(GenerateTest, StopStringSplitOverTokensIsNeverReleased) {
  // Greedy text: "a", " ", "ST", "OP", "b", "c", ...
  const FakeCausalLM model =
      Chain({{kBos, kA}, {kA, kSpace}, {kSpace, kSt}, {kSt, kOp}, {kOp, kB}, {kB, kC}, {kC, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions options = Greedy(10);
  options.stop = {" STOP"};
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, options);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.result->tokens, (std::vector<int32_t>{kA, kSpace, kSt, kOp}));
  EXPECT_EQ(run.result->finish_reason, FinishReason::kStop);
  EXPECT_EQ(run.result->text, "a");
  ASSERT_EQ(run.events.size(), 4u);
  EXPECT_EQ(run.events[0].text_delta, "a");
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(run.events[i].text_delta, "") << i;
  EXPECT_EQ(Seen(*state), (std::vector<int32_t>{kBos, kA, kSpace, kSt, kOp}));

  // A stop string that never completes: the held-back "ST" is released once "OP" rules it out.
  options.stop = {"STX"};
  options.max_new_tokens = 6;
  auto state2 = model.NewState();
  const Outcome miss = RunGenerate(model, tokenizer, *state2, {kBos}, options);
  ASSERT_TRUE(miss.result.ok()) << miss.result.status();
  EXPECT_EQ(miss.result->finish_reason, FinishReason::kLength);
  ASSERT_EQ(miss.events.size(), 6u);
  EXPECT_EQ(miss.events[2].text_delta, "");
  EXPECT_EQ(miss.events[3].text_delta, "STOP");
  EXPECT_EQ(miss.result->text, Decoded(tokenizer, miss.result->tokens));
  EXPECT_EQ(miss.deltas, miss.result->text);
}

TEST(GenerateTest, HeldBackTextIsReleasedWhenGenerationEnds) {
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions options = Greedy(3);
  options.stop = {"STOP"};
  const FakeCausalLM by_length = Chain({{kBos, kA}, {kA, kSpace}, {kSpace, kSt}, {kSt, kOp}});
  auto state = by_length.NewState();
  const Outcome length_run = RunGenerate(by_length, tokenizer, *state, {kBos}, options);
  ASSERT_TRUE(length_run.result.ok()) << length_run.result.status();
  EXPECT_EQ(length_run.result->finish_reason, FinishReason::kLength);
  EXPECT_EQ(length_run.result->text, "a ST");
  EXPECT_EQ(length_run.events.back().text_delta, "ST");
  EXPECT_EQ(length_run.deltas, "a ST");

  options.max_new_tokens = 10;
  const FakeCausalLM by_eos = Chain({{kBos, kA}, {kA, kSpace}, {kSpace, kSt}, {kSt, kEos}});
  auto state2 = by_eos.NewState();
  const Outcome eos_run = RunGenerate(by_eos, tokenizer, *state2, {kBos}, options);
  ASSERT_TRUE(eos_run.result.ok()) << eos_run.result.status();
  EXPECT_EQ(eos_run.result->finish_reason, FinishReason::kEos);
  EXPECT_EQ(eos_run.result->text, "a ST");
  EXPECT_EQ(eos_run.events.back().token_id, kEos);
  EXPECT_EQ(eos_run.events.back().text_delta, "ST");
}

TEST(GenerateTest, SplitUtf8CharacterIsEmittedWhole) {
  const FakeCausalLM model =
      Chain({{kBos, kUtf8Lead}, {kUtf8Lead, kUtf8Tail}, {kUtf8Tail, kA}, {kA, kUtf8Lead}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, Greedy(3));
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  ASSERT_EQ(run.events.size(), 3u);
  EXPECT_EQ(run.events[0].text_delta, "");
  EXPECT_EQ(run.events[1].text_delta, "\xC3\xA9");
  EXPECT_EQ(run.events[2].text_delta, "a");
  EXPECT_EQ(run.result->text, "\xC3\xA9" "a");

  // Ending on half a character still yields the tokenizer's text for the whole output.
  auto state2 = model.NewState();
  const Outcome cut = RunGenerate(model, tokenizer, *state2, {kBos}, Greedy(4));
  ASSERT_TRUE(cut.result.ok()) << cut.result.status();
  EXPECT_EQ(cut.result->text, Decoded(tokenizer, cut.result->tokens));
  EXPECT_EQ(cut.deltas, cut.result->text);
}

TEST(GenerateTest, CallbackCancels) {
  const FakeCausalLM model = Chain({{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, Greedy(10), /*cancel_at=*/3);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.result->finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(run.result->tokens, (std::vector<int32_t>{kA, kB, kC}));
  EXPECT_EQ(run.events.size(), 3u);
  EXPECT_EQ(Seen(*state), (std::vector<int32_t>{kBos, kA, kB, kC}));

  // Cancelling on the token that ends the generation anyway keeps the real reason.
  const FakeCausalLM eos = Chain({{kBos, kA}, {kA, kEos}});
  auto state2 = eos.NewState();
  const Outcome late = RunGenerate(eos, tokenizer, *state2, {kBos}, Greedy(10), /*cancel_at=*/2);
  ASSERT_TRUE(late.result.ok()) << late.result.status();
  EXPECT_EQ(late.result->finish_reason, FinishReason::kEos);
}

TEST(GenerateTest, ZeroMaxNewTokensOnlyPrefills) {
  const FakeCausalLM model = Chain({{kBos, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos, kB, kC}, Greedy(0));
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_TRUE(run.result->tokens.empty());
  EXPECT_EQ(run.result->finish_reason, FinishReason::kLength);
  EXPECT_EQ(run.result->prompt_tokens, 3);
  EXPECT_TRUE(run.events.empty());
  EXPECT_EQ(Seen(*state), (std::vector<int32_t>{kBos, kB, kC}));
}

TEST(GenerateTest, SessionTurnsFeedOnlyNewTokens) {
  const FakeCausalLM model =
      Chain({{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}, {kNewline, kD}, {kD, kE}, {kE, kF}, {kF, kD}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome first = RunGenerate(model, tokenizer, *state, {kBos, kA}, Greedy(2));
  ASSERT_TRUE(first.result.ok()) << first.result.status();
  const Outcome second = RunGenerate(model, tokenizer, *state, {kNewline, kD}, Greedy(3));
  ASSERT_TRUE(second.result.ok()) << second.result.status();
  EXPECT_EQ(second.result->prompt_tokens, 2);
  EXPECT_EQ(Seen(*state), Concat(Concat(Concat({kBos, kA}, first.result->tokens), {kNewline, kD}),
                                 second.result->tokens));

  // The same as one call over the whole history.
  auto fresh = model.NewState();
  const Outcome whole = RunGenerate(model, tokenizer, *fresh,
                             Concat(Concat({kBos, kA}, first.result->tokens), {kNewline, kD}),
                             Greedy(3));
  ASSERT_TRUE(whole.result.ok()) << whole.result.status();
  EXPECT_EQ(whole.result->tokens, second.result->tokens);
  EXPECT_EQ(second.result->text, "ef" "d");
}

TEST(GenerateTest, RejectsBadRequestsBeforeTouchingTheState) {
  const FakeCausalLM model = Chain({{kBos, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  struct Case {
    const char* name;
    std::vector<int32_t> prompt;
    GenerationOptions options;
  };
  std::vector<Case> cases;
  cases.push_back({"negative max_new_tokens", {kBos}, Greedy(-1)});
  cases.push_back({"empty prompt", {}, Greedy(4)});
  cases.push_back({"id past the vocabulary", {kBos, kVocab}, Greedy(4)});
  cases.push_back({"negative id", {-1}, Greedy(4)});
  GenerationOptions bad_top_p = Greedy(4);
  bad_top_p.sampling.top_p = 0.0f;
  cases.push_back({"top_p", {kBos}, bad_top_p});
  GenerationOptions empty_stop = Greedy(4);
  empty_stop.stop = {"ok", ""};
  cases.push_back({"empty stop string", {kBos}, empty_stop});
  GenerationOptions bad_stop_id = Greedy(4);
  bad_stop_id.stop_token_ids = {kVocab + 5};
  cases.push_back({"stop token id", {kBos}, bad_stop_id});
  GenerationOptions top_without_logprobs = Greedy(4);
  top_without_logprobs.top_logprobs = 2;
  cases.push_back({"top_logprobs without logprobs", {kBos}, top_without_logprobs});
  GenerationOptions too_many_top = Greedy(4);
  too_many_top.logprobs = true;
  too_many_top.top_logprobs = kMaxTopLogprobs + 1;
  cases.push_back({"top_logprobs too large", {kBos}, too_many_top});
  for (const Case& c : cases) {
    auto state = model.NewState();
    const Outcome run = RunGenerate(model, tokenizer, *state, c.prompt, c.options);
    EXPECT_EQ(run.result.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(state->tokens(), 0) << c.name;
    EXPECT_TRUE(run.events.empty()) << c.name;
  }

  // A session turn must still bring at least one token.
  auto state = model.NewState();
  ASSERT_TRUE(RunGenerate(model, tokenizer, *state, {kBos}, Greedy(1)).result.ok());
  EXPECT_EQ(RunGenerate(model, tokenizer, *state, {}, Greedy(1)).result.status().code(),
            absl::StatusCode::kInvalidArgument);

  // Ids the tokenizer cannot decode are out even when the model has them.
  const FakeTokenizer small({"<s>", "</s>", "a"}, {0, 1}, 0, 1);
  auto state2 = model.NewState();
  EXPECT_EQ(RunGenerate(model, small, *state2, {kB}, Greedy(1)).result.status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GenerateTest, NeverSamplesIdsTheTokenizerLacks) {
  // The model favours id 5, which a 4-piece tokenizer cannot decode.
  const FakeCausalLM model = Chain({{0, 5}, {2, 5}, {3, 5}});
  const FakeTokenizer small({"<s>", "</s>", "a", "b"}, {0, 1}, 0, std::nullopt);
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, small, *state, {0}, Greedy(4));
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  for (const int32_t t : run.result->tokens) EXPECT_LT(t, 4);
}

TEST(GenerateTest, SeededSamplingIsReproducibleAndDeltasEqualDecode) {
  const FakeCausalLM flat(std::vector<int32_t>(kVocab, -1), {kEot});
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions options;
  options.max_new_tokens = 300;
  options.ignore_eos = true;
  options.sampling.temperature = 1.0f;
  options.sampling.seed = 11;
  auto state = flat.NewState();
  const Outcome a = RunGenerate(flat, tokenizer, *state, {kBos}, options);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  EXPECT_EQ(a.result->tokens.size(), 300u);
  EXPECT_EQ(Seen(*state), Concat({kBos}, a.result->tokens));
  EXPECT_EQ(a.result->text, Decoded(tokenizer, a.result->tokens));
  EXPECT_EQ(a.deltas, a.result->text);

  auto state2 = flat.NewState();
  const Outcome b = RunGenerate(flat, tokenizer, *state2, {kBos}, options);
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  EXPECT_EQ(b.result->tokens, a.result->tokens);

  options.sampling.seed = 12;
  auto state3 = flat.NewState();
  const Outcome c = RunGenerate(flat, tokenizer, *state3, {kBos}, options);
  ASSERT_TRUE(c.result.ok()) << c.result.status();
  EXPECT_NE(c.result->tokens, a.result->tokens);
}

TEST(GenerateTest, LogprobsReportTheModelDistribution) {
  const FakeCausalLM model = Chain({{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions options = Greedy(4);
  options.logprobs = true;
  options.top_logprobs = 3;
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, options);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  int32_t previous = kBos;
  for (const TokenEvent& e : run.events) {
    const torch::Tensor reference = torch::log_softmax(model.Row(previous).to(torch::kFloat64), 0);
    EXPECT_NEAR(e.logprob, reference[e.token_id].item<double>(), 1e-5);
    ASSERT_EQ(e.top_logprobs.size(), 3u);
    EXPECT_EQ(e.top_logprobs[0].token_id, e.token_id);
    EXPECT_GE(e.top_logprobs[1].logprob, e.top_logprobs[2].logprob);
    previous = e.token_id;
  }
}

TEST(GenerateTest, PenaltiesSeeTheOutput) {
  // Greedy alone alternates a, b; a strong repetition penalty forbids going back to "a".
  const FakeCausalLM model = Chain({{kBos, kA}, {kA, kB}, {kB, kA}});
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome plain = RunGenerate(model, tokenizer, *state, {kBos}, Greedy(3));
  ASSERT_TRUE(plain.result.ok());
  EXPECT_EQ(plain.result->tokens, (std::vector<int32_t>{kA, kB, kA}));
  GenerationOptions options = Greedy(3);
  options.sampling.repetition_penalty = 100.0f;
  auto state2 = model.NewState();
  const Outcome penalized = RunGenerate(model, tokenizer, *state2, {kBos}, options);
  ASSERT_TRUE(penalized.result.ok());
  EXPECT_NE(penalized.result->tokens[2], kA);
}

TEST(GenerateTest, ModelErrorsPropagate) {
  FakeCausalLM model = Chain({{kBos, kA}, {kA, kB}, {kB, kA}});
  model.FailDecodeAfter(2);
  const FakeTokenizer tokenizer = MakeTokenizer();
  auto state = model.NewState();
  const Outcome run = RunGenerate(model, tokenizer, *state, {kBos}, Greedy(5));
  EXPECT_EQ(run.result.status().code(), absl::StatusCode::kInternal);
}

// Random tokens of the llama3-tiny tokenizer, byte pieces that split characters included.
TEST(GenerateTest, RealTokenizerDeltasEqualDecodeAndStopStringsCutThere) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadTokenizer(::liger::testing::FixtureModel("llama3-tiny"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  const FakeCausalLM flat(std::vector<int32_t>(tok.vocab_size(), -1));
  absl::StatusOr<std::vector<int32_t>> prompt = tok.Encode("Once upon a time", true);
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  GenerationOptions options;
  options.max_new_tokens = 400;
  options.ignore_eos = true;
  options.sampling.temperature = 1.0f;
  options.sampling.seed = 2024;
  auto state = flat.NewState();
  const Outcome full = RunGenerate(flat, tok, *state, *prompt, options);
  ASSERT_TRUE(full.result.ok()) << full.result.status();
  const std::string& text = full.result->text;
  EXPECT_EQ(text, Decoded(tok, full.result->tokens));
  EXPECT_EQ(full.deltas, text);

  // A stop string taken from the middle of that text (on character boundaries) ends the same
  // sampled run right before its first occurrence.
  const auto boundary = [&](size_t pos) {
    while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    return pos;
  };
  const size_t begin = boundary(text.size() / 2);
  const size_t end = boundary(begin + 5);
  ASSERT_LT(begin, end);
  options.stop = {text.substr(begin, end - begin)};
  auto state2 = flat.NewState();
  const Outcome cut = RunGenerate(flat, tok, *state2, *prompt, options);
  ASSERT_TRUE(cut.result.ok()) << cut.result.status();
  EXPECT_EQ(cut.result->finish_reason, FinishReason::kStop);
  EXPECT_EQ(cut.result->text, text.substr(0, text.find(options.stop[0])));
  EXPECT_EQ(cut.deltas, cut.result->text);
  ASSERT_LE(cut.result->tokens.size(), full.result->tokens.size());
  EXPECT_TRUE(std::equal(cut.result->tokens.begin(), cut.result->tokens.end(),
                         full.result->tokens.begin()));
}

// A serving batch chooses greedy tokens where the logits are and hands the stream only the argmax;
// the stream must then behave as if it had sampled the row itself.
TEST(GenerationStreamTest, ChosenArgmaxAdvancesLikeTheLogitsRow) {
  const FakeCausalLM model = Chain({});
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions options = Greedy(3);
  auto sampled = GenerationStream::Create(model, tokenizer, {kBos}, options, 0);
  auto chosen = GenerationStream::Create(model, tokenizer, {kBos}, options, 0);
  ASSERT_TRUE(sampled.ok() && chosen.ok());
  EXPECT_FALSE(chosen->NeedsLogits());
  for (int32_t token : {kA, kB, kC}) {
    torch::Tensor row = torch::zeros({kVocab});
    row[token] = 3.0;
    auto want = sampled->Next(row);
    auto got = chosen->NextChosen(token);
    ASSERT_TRUE(want.ok() && got.ok()) << got.status();
    EXPECT_EQ(got->token_id, want->token_id);
    EXPECT_EQ(got->text_delta, want->text_delta);
  }
  EXPECT_EQ(chosen->finish_reason(), sampled->finish_reason());
  EXPECT_EQ(chosen->NextChosen(kA).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(GenerationStreamTest, SamplingPenaltiesAndLogprobsNeedTheWholeRow) {
  const FakeCausalLM model = Chain({});
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions sampling = Greedy(4), penalized = Greedy(4), logprobs = Greedy(4);
  sampling.sampling.temperature = 0.7f;
  penalized.sampling.repetition_penalty = 1.2f;
  logprobs.logprobs = true;
  for (const GenerationOptions& options : {sampling, penalized, logprobs}) {
    auto stream = GenerationStream::Create(model, tokenizer, {kBos}, options, 0);
    ASSERT_TRUE(stream.ok()) << stream.status();
    EXPECT_TRUE(stream->NeedsLogits());
    EXPECT_EQ(stream->NextChosen(kA).status().code(), absl::StatusCode::kFailedPrecondition);
  }
  auto stream = GenerationStream::Create(model, tokenizer, {kBos}, Greedy(4), 0);
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(stream->NextChosen(kVocab).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stream->NextChosen(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

// Until min_new_tokens are out the argmax skips EOS; the chosen token must honour that.
TEST(GenerationStreamTest, ChosenTokensSkipEosUntilMinNewTokens) {
  const FakeCausalLM model = Chain({});
  const FakeTokenizer tokenizer = MakeTokenizer();
  GenerationOptions options = Greedy(4);
  options.min_new_tokens = 1;
  auto stream = GenerationStream::Create(model, tokenizer, {kBos}, options, 0);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_FALSE(stream->NeedsLogits());
  EXPECT_TRUE(stream->MasksEos());
  EXPECT_EQ(stream->NextChosen(kEos).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(stream->NextChosen(kA).ok());
  EXPECT_FALSE(stream->MasksEos());
  auto eos = stream->NextChosen(kEos);
  ASSERT_TRUE(eos.ok()) << eos.status();
  EXPECT_EQ(stream->finish_reason(), FinishReason::kEos);
}

TEST(LogitsArgmaxTest, MasksEosPerRowAndFlagsRowsTheSamplerMustSee) {
  const float inf = std::numeric_limits<float>::infinity();
  // Columns past vocab (6) are ignored; EOS ids 1 and 3.
  torch::Tensor logits = torch::zeros({5, 8});
  logits[0][1] = 5;   // EOS wins, unmasked
  logits[1][1] = 5;   // EOS wins, masked: column 4 is the best left
  logits[1][4] = 1;
  logits[2][7] = 9;   // past the vocabulary
  logits[2][2] = 1;
  logits[3][0] = std::nanf("");
  logits[4].fill_(-inf);
  logits[4][3] = 2;   // only EOS is finite, and it is masked
  auto choices = LogitsArgmax(logits, 6, {1, 3}, {false, true, false, false, true}, "step");
  ASSERT_TRUE(choices.ok()) << choices.status();
  EXPECT_EQ(choices->tokens[0], 1);
  EXPECT_EQ(choices->tokens[1], 4);
  EXPECT_EQ(choices->tokens[2], 2);
  EXPECT_EQ(choices->usable, (std::vector<bool>{true, true, true, false, false}));
  EXPECT_EQ(LogitsArgmax(logits, 6, {}, {false}, "step").status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace liger
