#include "core/train/lora_adapters.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/io/file_util.h"
#include "core/io/safetensors_file.h"
#include "core/io/safetensors_writer.h"
#include "core/model/tensor_conversion.h"
#include "core/train/lora_options.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr char kLoraConfigFile[] = "adapter_config.json";
constexpr char kLoraWeightsFile[] = "adapter_model.safetensors";
constexpr size_t kLoraMaxConfigBytes = size_t{1} << 20;

// {out, in} of a projection's weight.
std::pair<int64_t, int64_t> LoraProjectionShape(const ModelConfig& c, Projection p) {
  const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  switch (p) {
    case Projection::kQ: return {q, c.hidden_size};
    case Projection::kK:
    case Projection::kV: return {kv, c.hidden_size};
    case Projection::kO: return {c.hidden_size, q};
    case Projection::kGate:
    case Projection::kUp: return {c.intermediate_size, c.hidden_size};
    case Projection::kDown: return {c.hidden_size, c.intermediate_size};
  }
  return {0, 0};
}

std::string LoraTensorName(int64_t layer, Projection p, bool is_a) {
  return absl::StrCat("base_model.model.model.layers.", layer, ".", ProjectionModule(p), ".",
                      ProjectionName(p), is_a ? ".lora_A.weight" : ".lora_B.weight");
}

std::string LoraShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status LoraTorchError(const char* what, const c10::Error& e) {
  const std::string message = absl::StrCat(what, ": ", e.what_without_backtrace());
  return absl::StrContains(message, "out of memory") ? absl::ResourceExhaustedError(message)
                                                     : absl::InternalError(message);
}

// Checks a stored factor against the model (FAILED_PRECONDITION: another model's adapter) and the
// adapter's own rank (DATA_LOSS: the file contradicts its config).
absl::Status CheckStoredFactor(const std::string& path, const std::string& name,
                               const TensorView& view, const torch::Tensor& param, int32_t rank) {
  if (view.dtype != DType::kFloat32 && view.dtype != DType::kBFloat16 &&
      view.dtype != DType::kFloat16) {
    return absl::DataLossError(absl::StrCat(path, ": tensor ", name, " has dtype ",
                                            std::string(DTypeName(view.dtype)),
                                            ", expected F32, BF16 or F16"));
  }
  if (view.shape.size() != 2) {
    return absl::DataLossError(absl::StrCat(path, ": tensor ", name, " has shape ",
                                            LoraShapeString(view.shape), ", expected a matrix"));
  }
  const bool is_a = absl::EndsWith(name, ".lora_A.weight");
  const int64_t rank_dim = view.shape[is_a ? 0 : 1];
  if (rank_dim != rank) {
    return absl::DataLossError(absl::StrCat(path, ": tensor ", name, " has shape ",
                                            LoraShapeString(view.shape), " but ", kLoraConfigFile,
                                            " says r = ", rank));
  }
  if (view.shape != param.sizes().vec()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": tensor ", name, " has shape ", LoraShapeString(view.shape), " but this model needs ",
        LoraShapeString(param.sizes().vec()), "; the adapter was trained for another model"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LoraAdapters>> LoraAdapters::Create(const ModelConfig& config,
                                                                   const LoraOptions& options,
                                                                   torch::Device device,
                                                                   uint64_t seed) {
  LIGER_RETURN_IF_ERROR(ValidateLoraOptions(options));
  if (config.num_hidden_layers < 1 || config.hidden_size < 1 || config.intermediate_size < 1 ||
      config.num_attention_heads < 1 || config.num_key_value_heads < 1 || config.head_dim < 1) {
    return absl::InvalidArgumentError("model config has no layers or empty projections");
  }
  std::vector<LayerFactors> layers(config.num_hidden_layers);
  try {
    torch::NoGradGuard no_grad;  // initialisation is no part of any graph
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    for (LayerFactors& layer : layers) {
      // Projections in a fixed order, so the draws do not depend on how targets are listed.
      for (Projection p : kAllProjections) {
        const std::string name(ProjectionName(p));
        if (std::find(options.target_modules.begin(), options.target_modules.end(), name) ==
            options.target_modules.end()) {
          continue;
        }
        const auto [out, in] = LoraProjectionShape(config, p);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in));
        torch::Tensor a = (torch::rand({options.rank, in}, generator, f32) * 2 - 1) * bound;
        LoraFactors& f = layer[static_cast<int>(p)];
        f.a = a.to(device).requires_grad_(true);
        f.b = torch::zeros({out, options.rank}, f32.device(device)).requires_grad_(true);
      }
    }
  } catch (const c10::Error& e) {
    return LoraTorchError("cannot create LoRA adapters", e);
  }
  return std::unique_ptr<LoraAdapters>(new LoraAdapters(options, std::move(layers)));
}

torch::Tensor LoraAdapters::Delta(int64_t layer, Projection p, const torch::Tensor& x) const {
  TORCH_CHECK(layer >= 0 && layer < num_layers(), "LoRA adapters have no layer ", layer);
  const LoraFactors& f = layers_[layer][static_cast<int>(p)];
  if (!f.a.defined()) return torch::Tensor();
  torch::Tensor h = x.to(torch::kFloat32);
  if (training_ && options_.dropout > 0) h = torch::dropout(h, options_.dropout, /*train=*/true);
  return (torch::linear(torch::linear(h, f.a), f.b) * scaling()).to(x.scalar_type());
}

std::vector<torch::Tensor> LoraAdapters::parameters() const {
  std::vector<torch::Tensor> out;
  for (auto& named : NamedParameters()) out.push_back(named.second);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> LoraAdapters::NamedParameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (int64_t i = 0; i < num_layers(); ++i) {
    for (Projection p : kAllProjections) {
      const LoraFactors& f = layers_[i][static_cast<int>(p)];
      if (!f.a.defined()) continue;
      out.emplace_back(LoraTensorName(i, p, true), f.a);
      out.emplace_back(LoraTensorName(i, p, false), f.b);
    }
  }
  return out;
}

std::pair<torch::Tensor, torch::Tensor> LoraAdapters::Factors(int64_t layer, Projection p) const {
  if (layer < 0 || layer >= num_layers()) return {};
  const LoraFactors& f = layers_[layer][static_cast<int>(p)];
  return {f.a, f.b};
}

std::vector<torch::Tensor> LoraAdapters::LayerParameters(int64_t layer) const {
  std::vector<torch::Tensor> factors;
  if (layer < 0 || layer >= num_layers()) return factors;
  for (const LoraFactors& f : layers_[layer]) {
    if (f.a.defined()) factors.insert(factors.end(), {f.a, f.b});
  }
  return factors;
}

absl::Status LoraAdapters::SaveAdapter(const std::string& dir, const std::string& base_model) const {
  try {
    std::vector<torch::Tensor> host;
    std::vector<std::pair<std::string, TensorView>> views;
    for (const auto& [name, t] : NamedParameters()) {
      host.push_back(t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
      LIGER_ASSIGN_OR_RETURN(TensorView view, ViewOf(host.back()));
      views.emplace_back(name, view);
    }
    LIGER_RETURN_IF_ERROR(WriteSafetensors(absl::StrCat(dir, "/", kLoraWeightsFile), views,
                                           {{"format", "pt"}}));
  } catch (const c10::Error& e) {
    return LoraTorchError("cannot save LoRA adapters", e);
  }
  return WriteFileAtomically(absl::StrCat(dir, "/", kLoraConfigFile),
                             LoraConfigJson(options_, base_model));
}

absl::StatusOr<std::unique_ptr<LoraAdapters>> LoraAdapters::LoadAdapter(const std::string& dir,
                                                                       const ModelConfig& config,
                                                                       torch::Device device) {
  const std::string config_path = absl::StrCat(dir, "/", kLoraConfigFile);
  LIGER_ASSIGN_OR_RETURN(std::string text, ReadFileToString(config_path, kLoraMaxConfigBytes));
  LIGER_ASSIGN_OR_RETURN(LoraOptions options, ParseLoraConfigJson(text, config_path));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<LoraAdapters> adapters,
                         Create(config, options, device, /*seed=*/0));
  const std::string path = absl::StrCat(dir, "/", kLoraWeightsFile);
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  const auto expected = adapters->NamedParameters();
  std::map<std::string, torch::Tensor> by_name(expected.begin(), expected.end());
  for (const auto& [name, view] : file->tensors()) {
    if (by_name.count(name) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": tensor ", name, " has no place in this model's LoRA (", config.num_hidden_layers,
          " layers, targets ", absl::StrJoin(options.target_modules, ","),
          "); the adapter was trained for another model"));
    }
  }
  std::vector<std::pair<std::string, torch::Tensor>> loaded;
  for (const auto& [name, param] : expected) {
    const TensorView* view = file->Find(name);
    if (view == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " lacks tensor ", name, "; the adapter was trained for another model"));
    }
    LIGER_RETURN_IF_ERROR(CheckStoredFactor(path, name, *view, param, options.rank));
    LIGER_ASSIGN_OR_RETURN(torch::Tensor t, ToTensor(*view));
    loaded.emplace_back(name, std::move(t));
  }
  LIGER_RETURN_IF_ERROR(adapters->LoadParameters(loaded));
  return adapters;
}

absl::Status LoraAdapters::LoadParameters(
    const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  std::map<std::string, const torch::Tensor*> given;
  for (const auto& [name, t] : named) {
    if (!given.emplace(name, &t).second) {
      return absl::FailedPreconditionError(absl::StrCat("LoRA parameter ", name, " given twice"));
    }
  }
  const auto mine = NamedParameters();
  for (const auto& [name, param] : mine) {
    auto it = given.find(name);
    if (it == given.end()) {
      return absl::FailedPreconditionError(absl::StrCat("LoRA parameter ", name, " is missing"));
    }
    const torch::Tensor& t = *it->second;
    if (!t.defined() || !t.is_floating_point() || !t.sizes().equals(param.sizes())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "LoRA parameter ", name, " must be a floating-point tensor of shape ",
          LoraShapeString(param.sizes().vec()),
          t.defined() ? absl::StrCat(", got ", LoraShapeString(t.sizes().vec())) : ""));
    }
  }
  if (given.size() != mine.size()) {
    std::map<std::string, torch::Tensor> known(mine.begin(), mine.end());
    for (const auto& [name, t] : given) {
      if (known.count(name) == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("LoRA parameter ", name, " does not belong to these adapters"));
      }
    }
  }
  try {
    torch::NoGradGuard no_grad;
    for (const auto& [name, param] : mine) {
      // `param` shares storage with the factor, so the copy updates it in place.
      torch::Tensor dst = param;
      dst.copy_(*given[name]);
    }
  } catch (const c10::Error& e) {
    return LoraTorchError("cannot load LoRA parameters", e);
  }
  return absl::OkStatus();
}

}  // namespace liger
