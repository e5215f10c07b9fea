#pragma once

#include <cstdint>
#include <memory>

namespace liger {

// Everything a model must remember about one sequence to continue it: a KV cache for the softmax
// teacher, a fixed-size recurrent state plus a window ring for Liger models.
class ModelState {
 public:
  virtual ~ModelState() = default;

  // Tokens consumed so far (the position of the next token).
  virtual int64_t tokens() const = 0;
  // Exact bytes of tensor storage this state holds.
  virtual int64_t bytes() const = 0;
  // Deep copy, so a conversation can fork.
  virtual std::unique_ptr<ModelState> Clone() const = 0;
};

}  // namespace liger
