// The serving figures of issue [5/8] for one model, printed as one table: decode tokens/s at several
// batch sizes after a prompt of --context tokens, batch-1 decode after --long-context tokens,
// prefill time for each of --prefill, state bytes per session and how many sessions fit in 70 GB,
// and the bandwidth roofline of a decode step (the bytes of weights it reads over the measured
// device-to-device copy bandwidth). With --baseline FILE (the JSON that
// scripts/gpu/hf_serving_benchmark.py writes for the softmax model through transformers) the
// table gets that model's figures side by side.
//
// Usage: serving_benchmark --model DIR [--device cuda] [--dtype bfloat16] [--batches 1,16,64,256]
//                          [--context 2048] [--long-context 32768] [--prefill 2048,8192,32768]
//                          [--steps 32] [--baseline FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/model/model_loader.h"

namespace liger {
namespace {

using Json = nlohmann::json;

struct Options {
  std::string model_dir;
  ModelLoadOptions load{torch::kCUDA, torch::kBFloat16};
  std::vector<int64_t> batches = {1, 16, 64, 256};
  int64_t context = 2048;
  int64_t long_context = 32768;
  std::vector<int64_t> prefill = {2048, 8192, 32768};
  int64_t steps = 32;
  std::string baseline;
};

absl::StatusOr<std::vector<int64_t>> ParseList(const std::string& text) {
  std::vector<int64_t> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t value;
    if (!absl::SimpleAtoi(part, &value) || value < 1) {
      return absl::InvalidArgumentError(absl::StrCat("not a positive integer list: ", text));
    }
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    const std::string value = argv[++i];
    absl::Status status;
    auto set_int = [&](int64_t& out) {
      if (!absl::SimpleAtoi(value, &out) || out < 1) {
        status = absl::InvalidArgumentError(absl::StrCat(flag, ": not a positive integer: ", value));
      }
    };
    auto set_list = [&](std::vector<int64_t>& out) {
      auto list = ParseList(value);
      if (list.ok()) out = *std::move(list);
      status = list.status();
    };
    if (flag == "--model") {
      o.model_dir = value;
    } else if (flag == "--device") {
      auto device = ParseDevice(value);
      if (device.ok()) o.load.device = *device;
      status = device.status();
    } else if (flag == "--dtype") {
      auto dtype = ParseComputeDType(value);
      if (dtype.ok()) o.load.dtype = *dtype;
      status = dtype.status();
    } else if (flag == "--batches") {
      set_list(o.batches);
    } else if (flag == "--context") {
      set_int(o.context);
    } else if (flag == "--long-context") {
      set_int(o.long_context);
    } else if (flag == "--prefill") {
      set_list(o.prefill);
    } else if (flag == "--steps") {
      set_int(o.steps);
    } else if (flag == "--baseline") {
      o.baseline = value;
    } else {
      status = absl::InvalidArgumentError(absl::StrCat("unknown flag ", flag));
    }
    if (!status.ok()) return status;
  }
  if (o.model_dir.empty()) return absl::InvalidArgumentError("--model DIR is required");
  return o;
}

// Waits for the device, so that a timing includes the kernels and not only their launch.
void Synchronize(torch::Device device) {
  if (device.is_cuda()) torch::zeros({1}, torch::TensorOptions().device(device)).sum().item<float>();
}

template <typename F>
double SecondsOf(torch::Device device, F f) {
  Synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  f();
  Synchronize(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::Tensor RandomTokens(const Transformer& model, int64_t n) {
  return torch::randint(3, model.config().vocab_size, {n}, torch::kInt64);
}

// Fails loudly: a benchmark that silently skips a figure would print a misleading table.
template <typename T>
T OrDie(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "serving_benchmark: %s: %s\n", what, value.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(value);
}

std::unique_ptr<ModelState> Prefilled(const Transformer& model, int64_t tokens) {
  std::unique_ptr<ModelState> state = model.NewState();
  OrDie(model.Prefill(RandomTokens(model, tokens), *state, /*all_logits=*/false), "prefill");
  return state;
}

// Decode tokens/s of `batch` sessions, each a copy of `prompt`: `steps` timed steps after 3 warm-up
// steps, greedy on the device (the next tokens never visit the host).
double DecodeRate(const Transformer& model, const ModelState& prompt, int64_t batch, int64_t steps) {
  std::vector<std::unique_ptr<ModelState>> owned;
  std::vector<ModelState*> sessions;
  for (int64_t i = 0; i < batch; ++i) {
    owned.push_back(prompt.Clone());
    sessions.push_back(owned.back().get());
  }
  torch::Tensor next = RandomTokens(model, batch).to(model.device());
  auto step = [&] {
    torch::Tensor logits = OrDie(model.DecodeStep(sessions, next), "decode step");
    next = logits.argmax(-1);
  };
  for (int i = 0; i < 3; ++i) step();
  const double seconds = SecondsOf(model.device(), [&] {
    for (int64_t i = 0; i < steps; ++i) step();
  });
  return static_cast<double>(batch * steps) / seconds;
}

// Device-to-device copy bandwidth (bytes read plus bytes written per second) over 1 GiB.
double CopyBandwidth(torch::Device device) {
  const int64_t bytes = int64_t{1} << 30;
  torch::Tensor from = torch::ones({bytes / 2}, torch::TensorOptions().dtype(torch::kBFloat16).device(device));
  torch::Tensor to = torch::empty_like(from);
  to.copy_(from);
  const int kRepeats = 10;
  const double seconds = SecondsOf(device, [&] {
    for (int i = 0; i < kRepeats; ++i) to.copy_(from);
  });
  return 2.0 * static_cast<double>(bytes) * kRepeats / seconds;
}

// The weight bytes one decode step streams: every layer, the final norm and the LM head (the
// embedding lookup reads one row per token).
int64_t DecodeWeightBytes(const TransformerWeights& w) {
  int64_t total = w.final_norm.nbytes() + w.lm_head.nbytes();
  for (const LayerWeights& layer : w.layers) {
    for (const torch::Tensor* t :
         {&layer.input_norm, &layer.post_attention_norm, &layer.q_proj, &layer.k_proj, &layer.v_proj,
          &layer.o_proj, &layer.q_bias, &layer.k_bias, &layer.v_bias, &layer.o_bias, &layer.q_norm,
          &layer.k_norm, &layer.gate_proj, &layer.up_proj, &layer.down_proj, &layer.gate_bias,
          &layer.up_bias, &layer.down_bias}) {
      if (t->defined()) total += t->nbytes();
    }
  }
  return total;
}

std::string Format(const Json& value, int decimals) {
  if (!value.is_number()) return "-";
  char out[64];
  std::snprintf(out, sizeof(out), "%.*f", decimals, value.get<double>());
  return out;
}

int Run(const Options& o) {
  const std::unique_ptr<Transformer> loaded = OrDie(LoadModel(o.model_dir, o.load), "loading the model");
  const Transformer& model = *loaded;
  const torch::Device device = model.device();
  torch::NoGradGuard no_grad;
  Json liger;
  liger["model"] = o.model_dir;

  Prefilled(model, 256);  // the first call pays for library initialisation
  for (int64_t length : o.prefill) {
    const torch::Tensor tokens = RandomTokens(model, length);
    double best = 1e30;
    for (int i = 0; i < 2; ++i) {
      std::unique_ptr<ModelState> state = model.NewState();
      best = std::min(best, SecondsOf(device, [&] {
        OrDie(model.Prefill(tokens, *state, false), "prefill");
      }));
    }
    liger["prefill_ms"][std::to_string(length)] = best * 1e3;
  }

  const std::unique_ptr<ModelState> prompt = Prefilled(model, o.context);
  liger["state_bytes"] = prompt->bytes();
  liger["sessions_in_70GB"] = 70'000'000'000 / prompt->bytes();
  for (int64_t batch : o.batches) {
    liger["decode_tokens_per_s"][std::to_string(batch)] = DecodeRate(model, *prompt, batch, o.steps);
  }
  const std::unique_ptr<ModelState> long_prompt = Prefilled(model, o.long_context);
  liger["decode_long_tokens_per_s"] = DecodeRate(model, *long_prompt, 1, o.steps);

  const double bandwidth = CopyBandwidth(device);
  const int64_t weight_bytes = DecodeWeightBytes(model.weights());
  liger["copy_bandwidth_GBps"] = bandwidth / 1e9;
  liger["weight_bytes"] = weight_bytes;
  liger["roofline_batch1_tokens_per_s"] = bandwidth / static_cast<double>(weight_bytes);

  Json baseline;
  if (!o.baseline.empty()) {
    std::ifstream in(o.baseline);
    baseline = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (baseline.is_discarded()) {
      std::fprintf(stderr, "serving_benchmark: %s is not JSON\n", o.baseline.c_str());
      return 1;
    }
  }
  auto row = [&](const std::string& name, const Json::json_pointer& at, int decimals) {
    const Json none;
    std::printf("| %s | %s | %s |\n", name.c_str(),
                Format(liger.contains(at) ? liger[at] : none, decimals).c_str(),
                Format(baseline.contains(at) ? baseline[at] : none, decimals).c_str());
  };
  std::printf("| %s, %s | Liger (this build) | softmax model (transformers) |\n|---|---|---|\n",
              device.str().c_str(), std::string(c10::toString(model.dtype())).c_str());
  for (int64_t batch : o.batches) {
    row(absl::StrCat("decode tokens/s, batch ", batch, ", after ", o.context, " tokens"),
        Json::json_pointer(absl::StrCat("/decode_tokens_per_s/", batch)), 0);
  }
  row(absl::StrCat("decode tokens/s, batch 1, after ", o.long_context, " tokens"),
      Json::json_pointer("/decode_long_tokens_per_s"), 0);
  for (int64_t length : o.prefill) {
    row(absl::StrCat("prefill of ", length, " tokens, ms"),
        Json::json_pointer(absl::StrCat("/prefill_ms/", length)), 1);
  }
  row(absl::StrCat("state bytes per session (after ", o.context, " tokens)"),
      Json::json_pointer("/state_bytes"), 0);
  row("sessions in 70 GB", Json::json_pointer("/sessions_in_70GB"), 0);
  row("decode weight bytes per step", Json::json_pointer("/weight_bytes"), 0);
  row("device copy bandwidth, GB/s", Json::json_pointer("/copy_bandwidth_GBps"), 0);
  row("batch-1 roofline (bandwidth / weight bytes), tokens/s",
      Json::json_pointer("/roofline_batch1_tokens_per_s"), 0);
  std::printf("\n%s\n", liger.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace liger

int main(int argc, char** argv) {
  auto options = liger::ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "serving_benchmark: %s\n", options.status().ToString().c_str());
    return 2;
  }
  return liger::Run(*options);
}
