// Prefill tokens/s for prompt lengths 512 ... 8192 and the latency of one batched decode step, for
// the Liger variants of the embedded default model and for its softmax teacher. Liger prefill
// should grow linearly with the prompt and its decode step stay flat however long the context; the
// teacher's prefill grows quadratically and its decode step with the context.
//
// Usage: model_benchmark [--model DIR] [--device cpu|cuda] [--dtype float32|bfloat16]
//                        [Google Benchmark flags, e.g. --benchmark_filter=Prefill]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "core/convert/converter.h"
#include "core/model/model_loader.h"

namespace liger {
namespace {

struct BenchSetup {
  std::string model_dir = std::string(LIGER_SOURCE_DIR) + "/models/llama3-tiny";
  std::string scratch_dir;  // converted checkpoints, removed at exit
  ModelLoadOptions load;
  std::map<std::string, std::unique_ptr<Transformer>> models;  // "teacher", "gla", ...
};

BenchSetup& Setup() {
  static BenchSetup setup;
  return setup;
}

const Transformer& Model(const std::string& variant) {
  BenchSetup& setup = Setup();
  auto it = setup.models.find(variant);
  if (it != setup.models.end()) return *it->second;
  std::string dir = setup.model_dir;
  if (variant != "teacher") {
    dir = absl::StrCat(setup.scratch_dir, "/", variant);
    ConversionOptions options;
    options.variant = variant;
    auto converted = ConvertCheckpoint(setup.model_dir, dir, options);
    if (!converted.ok()) {
      std::fprintf(stderr, "model_benchmark: %s\n", converted.status().ToString().c_str());
      std::exit(1);
    }
  }
  auto model = LoadModel(dir, setup.load);
  if (!model.ok()) {
    std::fprintf(stderr, "model_benchmark: %s\n", model.status().ToString().c_str());
    std::exit(1);
  }
  return *(setup.models[variant] = std::move(*model));
}

torch::Tensor RandomTokens(const Transformer& model, int64_t n) {
  return torch::randint(3, model.config().vocab_size, {n}, torch::kInt64);
}

void Synchronize(const Transformer& model) {
  // The CUDA timings must include the kernels, not only their launch; .item() waits for them.
  if (model.device().is_cuda()) {
    torch::zeros({1}, torch::TensorOptions().device(model.device())).sum().item<float>();
  }
}

void Fail(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(status.ToString().c_str());
}

void BM_Prefill(benchmark::State& state, const std::string& variant) {
  const Transformer& model = Model(variant);
  const int64_t length = state.range(0);
  torch::Tensor tokens = RandomTokens(model, length);
  for (auto _ : state) {
    std::unique_ptr<ModelState> session = model.NewState();
    auto logits = model.Prefill(tokens, *session, /*all_logits=*/false);
    if (!logits.ok()) return Fail(state, logits.status());
    Synchronize(model);
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(length), benchmark::Counter::kIsIterationInvariantRate);
}

// One decode step for `batch` sessions that have each seen `context` tokens.
void BM_DecodeStep(benchmark::State& state, const std::string& variant) {
  const Transformer& model = Model(variant);
  const int64_t batch = state.range(0), context = state.range(1);
  std::vector<std::unique_ptr<ModelState>> owned;
  std::vector<ModelState*> sessions;
  for (int64_t i = 0; i < batch; ++i) {
    owned.push_back(model.NewState());
    auto logits = model.Prefill(RandomTokens(model, context), *owned.back(), false);
    if (!logits.ok()) return Fail(state, logits.status());
    sessions.push_back(owned.back().get());
  }
  const torch::Tensor next = RandomTokens(model, batch);
  for (auto _ : state) {
    auto logits = model.DecodeStep(sessions, next);
    if (!logits.ok()) return Fail(state, logits.status());
    Synchronize(model);
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["state_bytes"] = static_cast<double>(sessions.front()->bytes());
}

void RegisterBenchmarks() {
  for (const std::string variant : {"gla", "hgrn2", "gsa", "teacher"}) {
    benchmark::RegisterBenchmark(("Prefill/" + variant).c_str(), BM_Prefill, variant)
        ->RangeMultiplier(2)
        ->Range(512, 8192)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("DecodeStep/" + variant).c_str(), BM_DecodeStep, variant)
        ->ArgsProduct({{1, 8, 64}, {64, 2048}})
        ->ArgNames({"batch", "context"})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

// Consumes --model, --device and --dtype; leaves the rest to Google Benchmark.
bool ParseOwnFlags(int* argc, char** argv) {
  BenchSetup& setup = Setup();
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < *argc;
    if ((arg == "--model" || arg == "--device" || arg == "--dtype") && !has_value) {
      std::fprintf(stderr, "model_benchmark: %s needs a value\n", arg.c_str());
      return false;
    }
    if (arg == "--model") {
      setup.model_dir = argv[++i];
    } else if (arg == "--device" || arg == "--dtype") {
      const std::string value = argv[++i];
      absl::Status status;
      if (arg == "--device") {
        auto device = ParseDevice(value);
        status = device.status();
        if (device.ok()) setup.load.device = *device;
      } else {
        auto dtype = ParseComputeDType(value);
        status = dtype.status();
        if (dtype.ok()) setup.load.dtype = *dtype;
      }
      if (!status.ok()) {
        std::fprintf(stderr, "model_benchmark: %s\n", status.ToString().c_str());
        return false;
      }
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  return true;
}

}  // namespace
}  // namespace liger

int main(int argc, char** argv) {
  using liger::Setup;
  if (!liger::ParseOwnFlags(&argc, argv)) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  std::string scratch = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  scratch += "/liger-model-benchmark-XXXXXX";
  if (::mkdtemp(scratch.data()) == nullptr) {
    std::perror("model_benchmark: mkdtemp");
    return 1;
  }
  Setup().scratch_dir = scratch;
  liger::RegisterBenchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  Setup().models.clear();
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return 0;
}
