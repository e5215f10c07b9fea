#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "core/io/safetensors_file.h"
#include "core/model/tensor_conversion.h"
#include "gtest/gtest.h"
#include "tests/test_paths.h"

namespace liger::testing {

// reference-outputs.safetensors of a fixture model: logits computed by Hugging Face transformers.
class ReferenceOutputs {
 public:
  explicit ReferenceOutputs(const std::string& model) {
    auto file = SafetensorsFile::Open(FixtureModel(model) + "/reference-outputs.safetensors");
    EXPECT_TRUE(file.ok()) << file.status();
    if (file.ok()) file_ = std::move(*file);
  }

  torch::Tensor Get(const std::string& name) const {
    const TensorView* view = file_ ? file_->Find(name) : nullptr;
    EXPECT_NE(view, nullptr) << name;
    if (view == nullptr) return torch::Tensor();
    auto t = ToTensor(*view);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : torch::Tensor();
  }

 private:
  std::unique_ptr<SafetensorsFile> file_;
};

// max |a - b| / max |b|, the relative criterion the fixtures are checked with.
inline double RelativeMaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max() /
          b.to(torch::kFloat64).abs().max())
      .item<double>();
}

}  // namespace liger::testing
