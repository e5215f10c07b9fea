// A saved and restored session state must continue exactly like one that never stopped, and
// restoring must reject every damaged, truncated, hostile or foreign input with a Status.
#include "core/model/state_serializer.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/io/crc32c.h"
#include "core/model/model_loader.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_device.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::FixtureModel;

constexpr int64_t kPrefix = 13;  // tokens before saving: past the 8-token window, inside a chunk
constexpr int64_t kMore = 7;     // prefilled after restoring (grows a 16-token KV cache)
constexpr int64_t kSteps = 5;    // decoded one at a time after that

struct StateCase {
  std::string name;
  std::string variant;  // empty: the softmax teacher
  std::vector<int> softmax_layers;
};

// A Liger-converted llama3-tiny: a rewritten config.json beside a link to the fixture's weights
// (conversion adds no tensors). An empty variant links the teacher's config unchanged.
std::string MakeCheckpoint(const fs::path& dir, const std::string& variant,
                           const std::vector<int>& softmax_layers, int window = 8,
                           int chunk_size = 16) {
  const std::string fixture = FixtureModel("llama3-tiny");
  fs::create_directories(dir);
  fs::create_symlink(fixture + "/model.safetensors", dir / "model.safetensors");
  std::ifstream in(fixture + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  if (!variant.empty()) {
    config["liger"] = {{"base_model_type", config["model_type"]},
                       {"variant", variant},
                       {"softmax_layers", softmax_layers},
                       {"window", window},
                       {"gsa_slots", 16},
                       {"chunk_size", chunk_size}};
    config["model_type"] = "liger_" + variant;
  }
  std::ofstream(dir / "config.json") << config.dump(2);
  return dir.string();
}

std::unique_ptr<Transformer> Load(const std::string& dir,
                                  torch::ScalarType dtype = torch::kFloat32) {
  ModelLoadOptions options;
  options.device = ::liger::testing::TestDevice();
  options.dtype = dtype;
  auto model = LoadModel(dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

// Deterministic token ids in [3, vocab); `salt` picks a different sequence.
torch::Tensor Tokens(int64_t n, int64_t salt, int64_t vocab) {
  return (torch::arange(n, torch::kInt64) * 7919 + 31 * salt + 5) % (vocab - 3) + 3;
}

// Prefills kMore tokens then decodes kSteps, returning every logit row [kMore + kSteps, V].
torch::Tensor Continue(const Transformer& model, ModelState& state, int64_t salt) {
  torch::Tensor tokens = Tokens(kMore + kSteps, salt, model.config().vocab_size);
  std::vector<torch::Tensor> rows;
  auto prefill = model.Prefill(tokens.narrow(0, 0, kMore), state, /*all_logits=*/true);
  EXPECT_TRUE(prefill.ok()) << prefill.status();
  if (!prefill.ok()) return torch::Tensor();
  rows.push_back(prefill->cpu());
  ModelState* states[] = {&state};
  for (int64_t i = kMore; i < kMore + kSteps; ++i) {
    auto step = model.DecodeStep(states, tokens.narrow(0, i, 1));
    EXPECT_TRUE(step.ok()) << step.status();
    if (!step.ok()) return torch::Tensor();
    rows.push_back(step->cpu());
  }
  return torch::cat(rows, 0);
}

std::unique_ptr<ModelState> Prefilled(const Transformer& model, int64_t n) {
  auto state = model.NewState();
  if (n > 0) {
    auto logits = model.Prefill(Tokens(n, 0, model.config().vocab_size), *state, false);
    EXPECT_TRUE(logits.ok()) << logits.status();
  }
  return state;
}

bool IsRejection(const absl::Status& s) {
  return s.code() == absl::StatusCode::kDataLoss || s.code() == absl::StatusCode::kInvalidArgument;
}

// The saved bytes split into their sections, to build hostile inputs with a valid checksum.
struct Sections {
  uint32_t version;
  nlohmann::json header;
  std::string data;
};

uint32_t ReadU32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

Sections Split(const std::string& bytes) {
  const uint32_t header_len = ReadU32(bytes, 12);
  Sections s;
  s.version = ReadU32(bytes, 8);
  s.header = nlohmann::json::parse(bytes.substr(16, header_len));
  s.data = bytes.substr(16 + header_len, bytes.size() - 20 - header_len);
  return s;
}

// Reassembles sections (a header given as raw text) and appends a correct checksum.
std::string Seal(uint32_t version, const std::string& header, const std::string& data) {
  std::string out(kStateMagic);
  PutU32(out, version);
  PutU32(out, static_cast<uint32_t>(header.size()));
  out += header + data;
  PutU32(out, Crc32c(out));
  return out;
}

std::string Seal(const Sections& s) { return Seal(s.version, s.header.dump(), s.data); }

class StateSerializerTest : public ::testing::TestWithParam<StateCase> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("liger-state-" + std::to_string(::getpid()) + "-" + GetParam().name);
    fs::remove_all(dir_);
    model_ = Load(MakeCheckpoint(dir_, GetParam().variant, GetParam().softmax_layers));
    ASSERT_NE(model_, nullptr);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Saved(const ModelState& state) {
    auto bytes = SerializeState(*model_, state);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::string();
  }

  fs::path dir_;
  std::unique_ptr<Transformer> model_;
};

TEST_P(StateSerializerTest, RestoredStateContinuesExactlyLikeTheOriginal) {
  for (int64_t prefix : {int64_t{0}, kPrefix}) {
    SCOPED_TRACE(prefix);
    auto original = Prefilled(*model_, prefix);
    const std::string bytes = Saved(*original);
    auto restored = RestoreState(*model_, bytes);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ((*restored)->tokens(), prefix);
    EXPECT_EQ((*restored)->bytes(), original->bytes());
    EXPECT_EQ(Saved(**restored), bytes);  // nothing lost or altered in the round trip

    torch::Tensor expected = Continue(*model_, *original, 1);
    torch::Tensor resumed = Continue(*model_, **restored, 1);
    ASSERT_TRUE(expected.defined() && resumed.defined());
    EXPECT_TRUE(torch::equal(expected, resumed))
        << "max abs diff " << (expected - resumed).abs().max().item<float>();
    EXPECT_EQ((*restored)->bytes(), original->bytes());
    EXPECT_EQ(Saved(**restored), Saved(*original));
  }
}

TEST_P(StateSerializerTest, ForkedStateDoesNotDisturbTheOriginal) {
  auto original = Prefilled(*model_, kPrefix);
  const std::string before = Saved(*original);
  auto fork = original->Clone();
  EXPECT_EQ(fork->bytes(), original->bytes());
  torch::Tensor forked = Continue(*model_, *fork, 2);
  EXPECT_EQ(Saved(*original), before);  // the fork wrote only its own tensors

  auto untouched = Prefilled(*model_, kPrefix);
  torch::Tensor expected = Continue(*model_, *untouched, 1);
  torch::Tensor continued = Continue(*model_, *original, 1);
  EXPECT_TRUE(torch::equal(expected, continued));
  EXPECT_FALSE(torch::equal(forked, continued));  // the fork really went elsewhere
}

// Steps alternate, so a fork sharing storage (a KV cache slot not yet reallocated, a ring slot,
// the recurrent memory) would overwrite what the original reads next.
TEST_P(StateSerializerTest, InterleavedForkAndOriginalStayIndependent) {
  auto original = Prefilled(*model_, kPrefix);
  auto fork = original->Clone();
  auto untouched = Prefilled(*model_, kPrefix);
  const int64_t vocab = model_->config().vocab_size;
  torch::Tensor mine = Tokens(kSteps, 1, vocab), theirs = Tokens(kSteps, 2, vocab);
  for (int64_t i = 0; i < kSteps; ++i) {
    ModelState* o[] = {original.get()};
    ModelState* f[] = {fork.get()};
    ModelState* u[] = {untouched.get()};
    auto got = model_->DecodeStep(o, mine.narrow(0, i, 1));
    ASSERT_TRUE(model_->DecodeStep(f, theirs.narrow(0, i, 1)).ok());
    auto want = model_->DecodeStep(u, mine.narrow(0, i, 1));
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_TRUE(torch::equal(*got, *want)) << "step " << i;
  }
}

TEST_P(StateSerializerTest, EverySampledByteCorruptionIsRejected) {
  auto state = Prefilled(*model_, kPrefix);
  const std::string bytes = Saved(*state);
  const size_t header_end = 16 + ReadU32(bytes, 12);
  std::vector<size_t> offsets;
  for (size_t i = 0; i < 48; ++i) offsets.push_back(i);  // magic, version, lengths, header start
  for (size_t i = 0; i < 64; ++i) offsets.push_back(16 + (header_end - 16) * i / 64);
  for (size_t i = 0; i < 64; ++i)
    offsets.push_back(header_end + (bytes.size() - 4 - header_end) * i / 64);
  for (size_t i = 1; i <= 8; ++i) offsets.push_back(bytes.size() - i);  // data tail, checksum
  for (size_t at : offsets) {
    for (unsigned char flip : {0x01, 0x80, 0xFF}) {
      std::string bad = bytes;
      bad[at] = static_cast<char>(bad[at] ^ flip);
      auto restored = RestoreState(*model_, bad);
      EXPECT_TRUE(IsRejection(restored.status()))
          << at << " ^ " << int{flip} << ": " << restored.status();
    }
  }
}

TEST_P(StateSerializerTest, EveryTruncationIsRejected) {
  auto state = Prefilled(*model_, kPrefix);
  const std::string bytes = Saved(*state);
  std::vector<size_t> lengths;
  for (size_t n = 0; n < 64; ++n) lengths.push_back(n);
  for (size_t i = 0; i < 100; ++i) lengths.push_back(bytes.size() * i / 100);
  for (size_t n = 1; n <= 8; ++n) lengths.push_back(bytes.size() - n);
  for (size_t n : lengths) {
    auto restored = RestoreState(*model_, absl::string_view(bytes).substr(0, n));
    EXPECT_TRUE(IsRejection(restored.status())) << n << ": " << restored.status();
  }
  std::string longer = bytes + '\0';
  EXPECT_EQ(RestoreState(*model_, longer).status().code(), absl::StatusCode::kDataLoss);
}

TEST_P(StateSerializerTest, SizeIsTheStateBytesPlusASmallHeader) {
  // 16 tokens fill a KV cache's first allocation exactly, so every layer's bytes() is valid data.
  auto full = Prefilled(*model_, 16);
  const std::string bytes = Saved(*full);
  const int64_t header = 16 + ReadU32(bytes, 12) + 4;
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), full->bytes() + header);
  EXPECT_LE(header, 4096);
  // One token more doubles every KV cache's capacity, but only the valid token is saved.
  const int64_t kv_layers = GetParam().variant.empty()
                                ? model_->config().num_hidden_layers
                                : static_cast<int64_t>(GetParam().softmax_layers.size());
  const ModelConfig& c = model_->config();
  const int64_t token_bytes = kv_layers * 2 * c.num_key_value_heads * c.head_dim * 4;
  auto grown = Prefilled(*model_, 16);
  ASSERT_TRUE(model_->Prefill(Tokens(1, 3, c.vocab_size), *grown, false).ok());
  const std::string grown_bytes = Saved(*grown);
  EXPECT_EQ(static_cast<int64_t>(grown_bytes.size()),
            full->bytes() + token_bytes + 16 + ReadU32(grown_bytes, 12) + 4);
  if (kv_layers > 0) {
    EXPECT_LT(static_cast<int64_t>(grown_bytes.size()), grown->bytes());
  }
}

// Inputs with a correct checksum but a hostile or inconsistent body.
TEST_P(StateSerializerTest, HostileInputsWithValidChecksumAreRejected) {
  auto state = Prefilled(*model_, kPrefix);
  const Sections good = Split(Saved(*state));
  ASSERT_TRUE(RestoreState(*model_, Seal(good)).ok());
  auto expect_code = [&](const std::string& bytes, absl::StatusCode code, const char* what) {
    auto restored = RestoreState(*model_, bytes);
    EXPECT_EQ(restored.status().code(), code) << what << ": " << restored.status();
  };
  using Json = nlohmann::json;
  auto edited = [&](const std::function<void(Json&)>& edit) {
    Sections s = good;
    edit(s.header);
    return Seal(s);
  };
  const auto kLoss = absl::StatusCode::kDataLoss;

  Sections newer = good;
  newer.version = kStateFormatVersion + 1;
  expect_code(Seal(newer), absl::StatusCode::kFailedPrecondition, "newer version");
  Sections older = good;
  older.version = 0;
  expect_code(Seal(older), absl::StatusCode::kInvalidArgument, "version 0");
  older.version = 1;
  expect_code(Seal(older), absl::StatusCode::kFailedPrecondition, "version 1, per-query-head memories");

  expect_code(Seal(kStateFormatVersion, "{", good.data), kLoss, "unparsable header");
  expect_code(Seal(kStateFormatVersion, "[]", good.data), kLoss, "header not an object");
  expect_code(Seal(kStateFormatVersion, std::string(100000, '[') + std::string(100000, ']'), good.data), kLoss,
              "deeply nested header");
  expect_code(Seal(kStateFormatVersion, good.header.dump(), good.data + "x"), kLoss, "extra data byte");
  expect_code(Seal(kStateFormatVersion, good.header.dump(), good.data.substr(1)), kLoss, "missing data byte");
  std::string long_header = Seal(good);
  long_header[15] = '\x7F';  // header length past the end
  long_header.resize(long_header.size() - 4);
  PutU32(long_header, Crc32c(long_header));
  expect_code(long_header, kLoss, "header length past the end");

  expect_code(edited([](Json& h) { h.erase("model"); }), kLoss, "no fingerprint");
  expect_code(edited([](Json& h) { h["extra"] = 1; }), kLoss, "unknown field");
  expect_code(edited([](Json& h) { h["tokens"] = -1; }), kLoss, "negative tokens");
  expect_code(edited([](Json& h) { h["tokens"] = "13"; }), kLoss, "string tokens");
  expect_code(edited([](Json& h) { h["tokens"] = 18446744073709551615ull; }), kLoss, "huge tokens");
  expect_code(edited([](Json& h) { h["layers"].erase(0); }), kLoss, "layer missing");
  expect_code(edited([](Json& h) { h["layers"][0] = 7; }), kLoss, "layer not an object");
  expect_code(edited([](Json& h) { h["layers"][1]["kind"] = "other"; }), kLoss, "wrong kind");
  expect_code(edited([](Json& h) { h["layers"][0]["tensors"][0]["dtype"] = "I64"; }), kLoss,
              "integer dtype");
  expect_code(edited([](Json& h) { h["layers"][0]["tensors"][0]["name"] = "x"; }), kLoss,
              "wrong tensor name");
  expect_code(edited([](Json& h) { h["layers"][0]["tensors"].erase(0); }), kLoss, "tensor missing");
  expect_code(edited([](Json& h) { h["layers"][0]["integers"]["extra"] = 1; }), kLoss,
              "unknown integer");
  expect_code(edited([](Json& h) {
                h["layers"][0]["tensors"][0]["shape"] = {int64_t{1} << 40, int64_t{1} << 40};
              }),
              kLoss, "shape beyond the data");
  expect_code(edited([](Json& h) {
                h["layers"][0]["tensors"][0]["shape"] = {0, int64_t{1} << 62, int64_t{1} << 62};
              }),
              kLoss, "empty shape with huge dims");
  expect_code(edited([](Json& h) { h["layers"][0]["tensors"][0]["shape"] = {-1}; }), kLoss,
              "negative dim");
  // Same byte count, other shape: the data still adds up, the layout does not.
  expect_code(edited([](Json& h) {
                Json& shape = h["layers"][0]["tensors"][0]["shape"];
                const int64_t a = shape[0].get<int64_t>(), b = shape[1].get<int64_t>();
                shape[0] = b;
                shape[1] = a;
              }),
              kLoss, "transposed shape");
  if (GetParam().variant.empty() || !GetParam().softmax_layers.empty()) {
    expect_code(edited([](Json& h) { h["tokens"] = h["tokens"].get<int64_t>() + 1; }), kLoss,
                "tokens disagree with the KV cache length");
  }
  if (GetParam().variant.empty()) {
    expect_code(edited([](Json& h) { h["layers"][0]["integers"]["capacity"] = int64_t{1} << 40; }),
                kLoss, "capacity beyond any real cache");
    expect_code(edited([](Json& h) { h["layers"][0]["integers"]["capacity"] = 3; }), kLoss,
                "capacity below the length");
  }
}

// Random header edits behind a recomputed checksum: whatever they turn into, restoring answers
// with a Status (accepting only edits that still describe a valid state) and never crashes.
TEST_P(StateSerializerTest, RandomHeaderEditsWithValidChecksumNeverCrash) {
  auto state = Prefilled(*model_, kPrefix);
  const std::string bytes = Saved(*state);
  const size_t header_len = ReadU32(bytes, 12);
  const std::string body = bytes.substr(0, bytes.size() - 4);
  uint64_t x = 88172645463325252ull;  // xorshift64: reproducible without global RNG state
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const char kAlphabet[] = "0123456789-.,:[]{}\"eE aFBL";
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = body;
    for (int edits = 1 + next() % 3; edits > 0; --edits) {
      bad[16 + next() % header_len] = kAlphabet[next() % (sizeof(kAlphabet) - 1)];
    }
    PutU32(bad, Crc32c(bad));
    auto restored = RestoreState(*model_, bad);
    const absl::StatusCode code = restored.status().code();
    EXPECT_TRUE(code == absl::StatusCode::kOk || code == absl::StatusCode::kDataLoss ||
                code == absl::StatusCode::kFailedPrecondition)
        << trial << ": " << restored.status();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, StateSerializerTest,
    ::testing::Values(StateCase{"teacher", "", {}}, StateCase{"gla", "gla", {}},
                      StateCase{"hgrn2", "hgrn2", {}}, StateCase{"gsa", "gsa", {}},
                      StateCase{"gla_hybrid", "gla", {0, 4}}, StateCase{"gsa_hybrid", "gsa", {7}}),
    [](const auto& info) { return info.param.name; });

class StateAcrossModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("liger-state-models-" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<Transformer> Make(const std::string& name, const std::string& variant,
                                    std::vector<int> softmax_layers, int window, int chunk = 16,
                                    torch::ScalarType dtype = torch::kFloat32) {
    return Load(MakeCheckpoint(root_ / name, variant, softmax_layers, window, chunk), dtype);
  }

  fs::path root_;
};

TEST_F(StateAcrossModelsTest, StateFromAnotherModelIsAFailedPrecondition) {
  auto gla = Make("gla", "gla", {}, 8);
  ASSERT_NE(gla, nullptr);
  auto bytes = SerializeState(*gla, *Prefilled(*gla, kPrefix));
  ASSERT_TRUE(bytes.ok()) << bytes.status();

  struct Other {
    std::string name, variant;
    std::vector<int> softmax_layers;
    int window;
    std::string named;  // what the message must mention
  };
  for (const Other& o :
       {Other{"wider", "gla", {}, 16, "window"}, Other{"hgrn2", "hgrn2", {}, 8, "variant"},
        Other{"hybrid", "gla", {2}, 8, "softmax_layers"}, Other{"teacher", "", {}, 8, "liger"}}) {
    auto other = Make(o.name, o.variant, o.softmax_layers, o.window);
    ASSERT_NE(other, nullptr);
    auto restored = RestoreState(*other, *bytes);
    EXPECT_EQ(restored.status().code(), absl::StatusCode::kFailedPrecondition) << o.name;
    EXPECT_NE(restored.status().message().find(o.named), absl::string_view::npos)
        << restored.status();
  }
  // chunk_size changes only how prefill computes, so the state stays valid.
  auto rechunked = Make("rechunked", "gla", {}, 8, /*chunk=*/4);
  ASSERT_NE(rechunked, nullptr);
  EXPECT_TRUE(RestoreState(*rechunked, *bytes).ok());
}

TEST_F(StateAcrossModelsTest, RestoresIntoTheModelsDtype) {
  auto f32 = Make("f32", "gla", {3}, 8);
  auto bf16 = Make("bf16", "gla", {3}, 8, 16, torch::kBFloat16);
  ASSERT_NE(f32, nullptr);
  ASSERT_NE(bf16, nullptr);
  auto bytes = SerializeState(*f32, *Prefilled(*f32, kPrefix));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto restored = RestoreState(*bf16, *bytes);
  ASSERT_TRUE(restored.ok()) << restored.status();
  // Same layout and storage as the bfloat16 model's own state after as many tokens.
  auto native = Prefilled(*bf16, kPrefix);
  EXPECT_EQ((*restored)->bytes(), native->bytes());
  auto resaved = SerializeState(*bf16, **restored);
  auto native_saved = SerializeState(*bf16, *native);
  ASSERT_TRUE(resaved.ok() && native_saved.ok());
  EXPECT_EQ(resaved->size(), native_saved->size());
  EXPECT_TRUE(torch::isfinite(Continue(*bf16, **restored, 1)).all().item<bool>());
}

// Not a Transformer's state: rejected rather than misread.
class ForeignState : public ModelState {
 public:
  int64_t tokens() const override { return 0; }
  int64_t bytes() const override { return 0; }
  std::unique_ptr<ModelState> Clone() const override { return std::make_unique<ForeignState>(); }
};

TEST_F(StateAcrossModelsTest, SerializingAForeignStateIsAnInvalidArgument) {
  auto gla = Make("gla", "gla", {}, 8);
  ASSERT_NE(gla, nullptr);
  EXPECT_EQ(SerializeState(*gla, ForeignState()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace liger
