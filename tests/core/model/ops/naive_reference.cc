#include "tests/core/model/ops/naive_reference.h"

#include <algorithm>
#include <cmath>

namespace liger::testing {
namespace {

torch::Tensor Cpu64(const torch::Tensor& t) { return t.to(torch::kCPU, torch::kDouble).contiguous(); }

// Softmax-weighted sum of value rows, given scores, in double.
void Attend(const std::vector<double>& scores, const std::vector<const double*>& values, int64_t d,
            double* out) {
  const double top = *std::max_element(scores.begin(), scores.end());
  double total = 0;
  std::fill(out, out + d, 0.0);
  for (size_t j = 0; j < scores.size(); ++j) {
    const double w = std::exp(scores[j] - top);
    total += w;
    for (int64_t c = 0; c < d; ++c) out[c] += w * values[j][c];
  }
  for (int64_t c = 0; c < d; ++c) out[c] /= total;
}

// Row (b, h[, i]) of a contiguous [B,H,T,D] or [B,H,D] float64 tensor.
double* Row(const torch::Tensor& t, int64_t b, int64_t h, int64_t i = 0) {
  return t.data_ptr<double>() + b * t.stride(0) + h * t.stride(1) + (t.dim() == 4 ? i * t.stride(2) : 0);
}

double Dot(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t c = 0; c < d; ++c) s += a[c] * b[c];
  return s;
}

}  // namespace

NaiveRecurrenceResult NaiveGatedRecurrence(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v, const torch::Tensor& log_gate,
                                           const torch::Tensor& state, bool gate_on_value) {
  const int64_t nb = q.size(0), nh = q.size(1), nt = q.size(2), kd = q.size(3), vd = v.size(3);
  const torch::Tensor q64 = Cpu64(q), k64 = Cpu64(k), v64 = Cpu64(v), g64 = Cpu64(log_gate);
  torch::Tensor s64 = state.defined() ? Cpu64(state).clone()
                                      : torch::zeros({nb, nh, kd, vd}, torch::kDouble);
  torch::Tensor out = torch::zeros({nb, nh, nt, vd}, torch::kDouble);
  auto qa = q64.accessor<double, 4>(), ka = k64.accessor<double, 4>();
  auto va = v64.accessor<double, 4>(), ga = g64.accessor<double, 4>();
  auto sa = s64.accessor<double, 4>();
  auto oa = out.accessor<double, 4>();
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t h = 0; h < nh; ++h) {
      for (int64_t t = 0; t < nt; ++t) {
        for (int64_t i = 0; i < kd; ++i) {
          for (int64_t j = 0; j < vd; ++j) {
            const double decay = std::exp(gate_on_value ? ga[b][h][t][j] : ga[b][h][t][i]);
            sa[b][h][i][j] = decay * sa[b][h][i][j] + ka[b][h][t][i] * va[b][h][t][j];
          }
        }
        for (int64_t j = 0; j < vd; ++j) {
          double o = 0;
          for (int64_t i = 0; i < kd; ++i) o += qa[b][h][t][i] * sa[b][h][i][j];
          oa[b][h][t][j] = o;
        }
      }
    }
  }
  return {out, s64};
}

torch::Tensor NaiveWindowAttention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const torch::Tensor& past_k,
                                   const torch::Tensor& past_v, int64_t window) {
  const int64_t nb = q.size(0), nh = q.size(1), nt = q.size(2), d = q.size(3);
  const int64_t np = past_k.defined() ? past_k.size(2) : 0;
  const torch::Tensor q64 = Cpu64(q);
  const torch::Tensor keys = np > 0 ? Cpu64(torch::cat({past_k.cpu(), k.cpu()}, 2)) : Cpu64(k);
  const torch::Tensor values = np > 0 ? Cpu64(torch::cat({past_v.cpu(), v.cpu()}, 2)) : Cpu64(v);
  torch::Tensor out = torch::zeros({nb, nh, nt, d}, torch::kDouble);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t h = 0; h < nh; ++h) {
      for (int64_t t = 0; t < nt; ++t) {
        const int64_t pos = np + t;
        std::vector<double> scores;
        std::vector<const double*> rows;
        for (int64_t j = std::max<int64_t>(0, pos - window); j <= pos; ++j) {
          scores.push_back(Dot(Row(q64, b, h, t), Row(keys, b, h, j), d) * scale);
          rows.push_back(Row(values, b, h, j));
        }
        Attend(scores, rows, d, Row(out, b, h, t));
      }
    }
  }
  return out;
}

torch::Tensor NaiveWindowStep(const torch::Tensor& q, const torch::Tensor& k_new,
                              const torch::Tensor& v_new, const torch::Tensor& ring_k,
                              const torch::Tensor& ring_v, const torch::Tensor& valid_mask) {
  const int64_t nb = q.size(0), nh = q.size(1), d = q.size(2), w = ring_k.size(2);
  const torch::Tensor q64 = Cpu64(q), kn = Cpu64(k_new), vn = Cpu64(v_new);
  const torch::Tensor rk = Cpu64(ring_k), rv = Cpu64(ring_v);
  const torch::Tensor mask = valid_mask.cpu().contiguous();
  auto ma = mask.accessor<bool, 2>();
  torch::Tensor out = torch::zeros({nb, nh, d}, torch::kDouble);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t h = 0; h < nh; ++h) {
      const double* qt = Row(q64, b, h);
      std::vector<double> scores;
      std::vector<const double*> rows;
      for (int64_t j = 0; j < w; ++j) {
        if (!ma[b][j]) continue;
        scores.push_back(Dot(qt, Row(rk, b, h, j), d) * scale);
        rows.push_back(Row(rv, b, h, j));
      }
      scores.push_back(Dot(qt, Row(kn, b, h), d) * scale);
      rows.push_back(Row(vn, b, h));
      Attend(scores, rows, d, Row(out, b, h));
    }
  }
  return out;
}

double RelativeError(const torch::Tensor& actual, const torch::Tensor& expected) {
  const torch::Tensor e = Cpu64(expected);
  const double diff = (Cpu64(actual) - e).abs().max().item<double>();
  return diff / std::max(e.abs().max().item<double>(), 1e-300);
}

bool AllFinite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

}  // namespace liger::testing
