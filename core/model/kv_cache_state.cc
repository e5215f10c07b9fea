#include "core/model/kv_cache_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace liger {
namespace {

// The first allocation's capacity in tokens; later ones double.
constexpr int64_t kKvCacheInitialCapacity = 16;

}  // namespace

KvCacheState::KvCacheState(int64_t kv_heads, int64_t head_dim, torch::TensorOptions options)
    : kv_heads_(kv_heads), head_dim_(head_dim), options_(options) {}

int64_t KvCacheState::bytes() const {
  return k_.defined() ? static_cast<int64_t>(k_.nbytes() + v_.nbytes()) : 0;
}

std::unique_ptr<LayerState> KvCacheState::Clone() const {
  auto copy = std::make_unique<KvCacheState>(kv_heads_, head_dim_, options_);
  if (k_.defined()) {
    copy->k_ = k_.clone();
    copy->v_ = v_.clone();
  }
  copy->length_ = length_;
  return copy;
}

LayerStateContents KvCacheState::Export() const {
  LayerStateContents contents;
  if (k_.defined()) {
    contents.tensors = {{"keys", keys()}, {"values", values()}};
  } else {
    torch::Tensor none = torch::empty({kv_heads_, 0, head_dim_}, options_);
    contents.tensors = {{"keys", none}, {"values", none}};
  }
  contents.integers = {{"capacity", k_.defined() ? k_.size(1) : 0}};
  return contents;
}

absl::Status KvCacheState::Import(LayerStateContents contents, int64_t tokens) {
  const auto& t = contents.tensors;
  if (t.size() != 2 || t[0].first != "keys" || t[1].first != "values") {
    return absl::DataLossError("a kv_cache layer must hold the tensors keys and values");
  }
  const std::vector<int64_t> expected = {kv_heads_, tokens, head_dim_};
  for (const auto& [name, tensor] : t) {
    if (tensor.sizes() != c10::IntArrayRef(expected)) {
      return absl::DataLossError(absl::StrCat("kv_cache ", name, " has shape [",
                                              absl::StrJoin(tensor.sizes(), ", "), "], expected [",
                                              absl::StrJoin(expected, ", "), "]"));
    }
  }
  if (contents.integers.size() != 1 || contents.integers[0].first != "capacity") {
    return absl::DataLossError("a kv_cache layer must record its capacity");
  }
  // Append never reserves more than this, so a larger value is corrupt (and would let a small
  // input allocate without bound).
  const int64_t capacity = contents.integers[0].second;
  if (capacity < tokens || capacity > std::max(kKvCacheInitialCapacity, 2 * tokens)) {
    return absl::DataLossError(
        absl::StrCat("kv_cache capacity ", capacity, " is impossible for ", tokens, " tokens"));
  }
  torch::Tensor k, v;
  if (capacity > 0) {
    k = torch::empty({kv_heads_, capacity, head_dim_}, options_);
    v = torch::empty({kv_heads_, capacity, head_dim_}, options_);
    k.narrow(1, 0, tokens).copy_(t[0].second);
    v.narrow(1, 0, tokens).copy_(t[1].second);
  }
  k_ = std::move(k);
  v_ = std::move(v);
  length_ = tokens;
  return absl::OkStatus();
}

void KvCacheState::Append(const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t t = k.size(1);
  const int64_t needed = length_ + t;
  if (!k_.defined() || needed > k_.size(1)) {
    const int64_t capacity =
        std::max<int64_t>(needed, k_.defined() ? 2 * k_.size(1) : kKvCacheInitialCapacity);
    torch::Tensor nk = torch::empty({k.size(0), capacity, k.size(2)}, k.options());
    torch::Tensor nv = torch::empty({v.size(0), capacity, v.size(2)}, v.options());
    if (length_ > 0) {
      nk.narrow(1, 0, length_).copy_(keys());
      nv.narrow(1, 0, length_).copy_(values());
    }
    k_ = nk;
    v_ = nv;
  }
  k_.narrow(1, length_, t).copy_(k);
  v_.narrow(1, length_, t).copy_(v);
  length_ = needed;
}

torch::Tensor KvCacheState::keys() const { return k_.narrow(1, 0, length_); }
torch::Tensor KvCacheState::values() const { return v_.narrow(1, 0, length_); }

}  // namespace liger
