#include "core/model/rotary_embedding.h"

#include <cmath>

#ifdef LIGER_WITH_CUDA
#include "core/model/ops/fused_elementwise.h"
#endif

namespace liger {
namespace {

// Llama 3.1's frequency-dependent scaling: long wavelengths are divided by `factor`, short ones kept,
// and the band between them interpolated smoothly.
torch::Tensor Llama3Scaled(const torch::Tensor& inv_freq, const RopeConfig& rope) {
  const double old_len = static_cast<double>(rope.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / rope.low_freq_factor;
  const double high_freq_wavelen = old_len / rope.high_freq_factor;
  torch::Tensor wavelen = 2 * M_PI / inv_freq;
  torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / rope.factor, inv_freq);
  torch::Tensor smooth = (old_len / wavelen - rope.low_freq_factor) /
                         (rope.high_freq_factor - rope.low_freq_factor);
  torch::Tensor smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
  torch::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return torch::where(is_medium, smoothed, scaled);
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config, torch::Device device) {
  const int64_t dim = config.head_dim;
  torch::Tensor exponents =
      torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dim);
  torch::Tensor inv_freq = 1.0 / torch::pow(config.rope.theta, exponents);
  if (config.rope.type == "llama3") inv_freq = Llama3Scaled(inv_freq, config.rope);
  if (config.rope.type == "linear") inv_freq = inv_freq / config.rope.factor;
  inv_freq_ = inv_freq.to(device);
}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::CosSin(const torch::Tensor& positions) const {
  torch::Tensor freqs = positions.to(inv_freq_.device(), torch::kFloat32).unsqueeze(-1) * inv_freq_;
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

torch::Tensor RotaryEmbedding::Apply(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin) {
#ifdef LIGER_WITH_CUDA
  if (FusedRotaryApplies(x, cos, sin)) return FusedRotary(x, cos, sin);
#endif
  torch::Tensor c = cos.to(x.scalar_type()).unsqueeze(1);
  torch::Tensor s = sin.to(x.scalar_type()).unsqueeze(1);
  return x * c + RotateHalf(x) * s;
}

}  // namespace liger
