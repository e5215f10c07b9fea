#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace liger {

// The BPE model of a byte-level tokenizer.json: vocabulary plus ranked merges, applied to one
// pre-token at a time with results cached per pre-token.
class BpeModel {
 public:
  struct Options {
    bool ignore_merges = false;
    std::optional<std::string> unk_token;
    bool fuse_unk = false;
  };

  // merges are in rank order; every merge's parts and their concatenation must be in vocab.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(
      absl::flat_hash_map<std::string, int32_t> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, const Options& options);

  // Tokenizes the raw bytes of one pre-token (before the byte-level mapping), appending ids.
  void Tokenize(std::string_view piece, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  const absl::flat_hash_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  struct MergeRule {
    int32_t rank;
    int32_t new_id;
  };

  BpeModel() = default;
  std::vector<int32_t> MergeWord(std::string_view piece) const;
  const MergeRule* FindMerge(int32_t left, int32_t right) const;

  absl::flat_hash_map<std::string, int32_t> vocab_;
  absl::flat_hash_map<uint64_t, MergeRule> merges_;
  std::array<int32_t, 256> byte_ids_{};  // id of each byte's alphabet character, -1 if absent
  Options options_;
  std::optional<int32_t> unk_id_;

  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace liger
