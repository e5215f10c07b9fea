#include "core/tokenizer/bpe_model.h"

#include <queue>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/byte_level_alphabet.h"

namespace liger {
namespace {

// Bounds the cache's memory; like Hugging Face's, it stops admitting words once full.
constexpr size_t kMaxCacheEntries = 100000;
constexpr size_t kMaxCachedWordBytes = 256;

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

struct Symbol {
  int32_t id;
  int prev;
  int next;
  bool alive;
};

struct Candidate {
  int32_t rank;
  int pos;
  int32_t new_id;
  // Lowest rank first, then leftmost: the order Hugging Face's Word::merge_all uses.
  bool operator<(const Candidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(
    absl::flat_hash_map<std::string, int32_t> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, const Options& options) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  model->options_ = options;
  model->vocab_ = std::move(vocab);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    // Not a structured binding: C++17 lambdas cannot capture those (clang rejects it).
    const std::string& left = merges[rank].first;
    const std::string& right = merges[rank].second;
    auto find = [&](const std::string& token) -> absl::StatusOr<int32_t> {
      auto it = model->vocab_.find(token);
      if (it == model->vocab_.end()) {
        return absl::InvalidArgumentError(absl::StrCat("merge #", rank, " (\"", left, " ", right,
                                                       "\") names \"", token,
                                                       "\", which is not in the vocabulary"));
      }
      return it->second;
    };
    absl::StatusOr<int32_t> left_id = find(left);
    if (!left_id.ok()) return left_id.status();
    absl::StatusOr<int32_t> right_id = find(right);
    if (!right_id.ok()) return right_id.status();
    absl::StatusOr<int32_t> new_id = find(left + right);
    if (!new_id.ok()) return new_id.status();
    // A repeated pair keeps its first (best) rank.
    model->merges_.try_emplace(PairKey(*left_id, *right_id),
                               MergeRule{static_cast<int32_t>(rank), *new_id});
  }
  const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::Get();
  for (int b = 0; b < 256; ++b) {
    auto it = model->vocab_.find(alphabet.Encode(static_cast<uint8_t>(b)));
    model->byte_ids_[b] = it == model->vocab_.end() ? -1 : it->second;
  }
  if (options.unk_token) {
    auto it = model->vocab_.find(*options.unk_token);
    if (it == model->vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unk_token \"", *options.unk_token, "\" is not in the vocabulary"));
    }
    model->unk_id_ = it->second;
  }
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(absl::string_view(token.data(), token.size()));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const BpeModel::MergeRule* BpeModel::FindMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::Tokenize(std::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.empty()) return;
  if (options_.ignore_merges) {
    std::string mapped;
    for (char c : piece) mapped += ByteLevelAlphabet::Get().Encode(static_cast<uint8_t>(c));
    if (auto id = TokenToId(mapped)) {
      ids->push_back(*id);
      return;
    }
  }
  const bool cacheable = piece.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    absl::ReaderMutexLock lock(&cache_mu_);
    auto it = cache_.find(absl::string_view(piece.data(), piece.size()));
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> merged = MergeWord(piece);
  ids->insert(ids->end(), merged.begin(), merged.end());
  if (cacheable) {
    absl::MutexLock lock(&cache_mu_);
    if (cache_.size() < kMaxCacheEntries) cache_.emplace(piece, std::move(merged));
  }
}

std::vector<int32_t> BpeModel::MergeWord(std::string_view piece) const {
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  for (char c : piece) {
    int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id < 0) {
      // Characters outside the vocabulary become unk (fused if asked) or are dropped, as in
      // Hugging Face's BPE.
      if (!unk_id_) continue;
      if (options_.fuse_unk && !symbols.empty() && symbols.back().id == *unk_id_) continue;
      id = *unk_id_;
    }
    const int index = static_cast<int>(symbols.size());
    symbols.push_back(Symbol{id, index - 1, index + 1, true});
  }
  if (symbols.empty()) return {};
  symbols.back().next = -1;

  std::priority_queue<Candidate> queue;
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const MergeRule* m = FindMerge(symbols[i].id, symbols[i + 1].id)) {
      queue.push(Candidate{m->rank, static_cast<int>(i), m->new_id});
    }
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    // The pair may have changed since the candidate was queued.
    const MergeRule* m = FindMerge(left.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) {
      if (const MergeRule* pm = FindMerge(symbols[left.prev].id, left.id)) {
        queue.push(Candidate{pm->rank, left.prev, pm->new_id});
      }
    }
    if (left.next >= 0) {
      if (const MergeRule* nm = FindMerge(left.id, symbols[left.next].id)) {
        queue.push(Candidate{nm->rank, top.pos, nm->new_id});
      }
    }
  }
  std::vector<int32_t> ids;
  for (int i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
  return ids;
}

}  // namespace liger
