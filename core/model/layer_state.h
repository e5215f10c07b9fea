#pragma once

#include <cstdint>
#include <memory>

namespace liger {

// What one layer's sequence mixer remembers about one sequence (a KV cache, or a recurrent state and
// a window ring).
class LayerState {
 public:
  virtual ~LayerState() = default;
  virtual int64_t bytes() const = 0;
  virtual std::unique_ptr<LayerState> Clone() const = 0;
};

}  // namespace liger
