#pragma once

#include <cstdint>
#include <memory>

#include "core/model/model_state.h"

namespace liger::testing {

// A model state whose token count and size tests set by hand.
class SizedState : public ModelState {
 public:
  explicit SizedState(int64_t bytes, int64_t tokens = 0) : bytes_(bytes), tokens_(tokens) {}

  int64_t tokens() const override { return tokens_; }
  int64_t bytes() const override { return bytes_; }
  std::unique_ptr<ModelState> Clone() const override {
    return std::make_unique<SizedState>(*this);
  }

  void Set(int64_t bytes, int64_t tokens) {
    bytes_ = bytes;
    tokens_ = tokens;
  }

 private:
  int64_t bytes_;
  int64_t tokens_;
};

}  // namespace liger::testing
