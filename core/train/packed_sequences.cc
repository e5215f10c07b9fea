#include "core/train/packed_sequences.h"

#include "absl/strings/str_cat.h"
#include "core/io/crc32c.h"

namespace liger {

absl::StatusOr<PackedSequences> PackedSequences::Pack(
    const std::vector<TrainingDocument>& documents, int64_t sequence_length,
    const std::string& source) {
  if (sequence_length < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequence_length must be positive, got ", sequence_length));
  }
  PackedSequences packed;
  packed.sequence_length_ = sequence_length;
  for (const TrainingDocument& document : documents) {
    packed.tokens_.insert(packed.tokens_.end(), document.tokens.begin(), document.tokens.end());
    packed.trained_.insert(packed.trained_.end(), document.trained.begin(), document.trained.end());
  }
  const int64_t stream = static_cast<int64_t>(packed.tokens_.size());
  for (int64_t start = 0; start + sequence_length < stream; start += sequence_length) {
    int64_t trained = 0;
    for (int64_t i = start + 1; i <= start + sequence_length; ++i) trained += packed.trained_[i];
    if (trained == 0) continue;
    packed.starts_.push_back(start);
    packed.trained_labels_.push_back(trained);
  }
  if (packed.starts_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": no training sequence can be formed: the data holds ", stream,
        " tokens, and a sequence needs ", sequence_length + 1,
        " of which at least one trained label (a response token in instruction data)"));
  }
  return packed;
}

std::pair<torch::Tensor, torch::Tensor> PackedSequences::Batch(
    absl::Span<const int64_t> indices) const {
  const int64_t n = static_cast<int64_t>(indices.size());
  torch::Tensor inputs = torch::empty({n, sequence_length_}, torch::kInt64);
  torch::Tensor labels = torch::empty({n, sequence_length_}, torch::kInt64);
  int64_t* in = inputs.data_ptr<int64_t>();
  int64_t* out = labels.data_ptr<int64_t>();
  for (int64_t row = 0; row < n; ++row) {
    const int64_t start = starts_.at(indices[row]);
    for (int64_t t = 0; t < sequence_length_; ++t) {
      in[row * sequence_length_ + t] = tokens_[start + t];
      const int64_t next = start + t + 1;
      out[row * sequence_length_ + t] = trained_[next] ? tokens_[next] : kUntrainedLabel;
    }
  }
  return {inputs, labels};
}

int64_t PackedSequences::TrainedLabels(absl::Span<const int64_t> indices) const {
  int64_t total = 0;
  for (int64_t index : indices) total += trained_labels_.at(index);
  return total;
}

uint32_t PackedSequences::Checksum() const {
  uint32_t crc = Crc32c(absl::string_view(reinterpret_cast<const char*>(tokens_.data()),
                                          tokens_.size() * sizeof(int32_t)));
  crc = ExtendCrc32c(crc, absl::string_view(reinterpret_cast<const char*>(trained_.data()),
                                            trained_.size()));
  const int64_t length = sequence_length_;
  return ExtendCrc32c(crc, absl::string_view(reinterpret_cast<const char*>(&length),
                                             sizeof(length)));
}

}  // namespace liger
