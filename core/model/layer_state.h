#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace liger {

// What a LayerState saves: named tensors holding only valid data (not a cache's spare capacity)
// and named integers the tensors do not imply (such as that capacity).
struct LayerStateContents {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::vector<std::pair<std::string, int64_t>> integers;
};

// What one layer's sequence mixer remembers about one sequence (a KV cache, or a recurrent state and
// a window ring).
class LayerState {
 public:
  virtual ~LayerState() = default;
  virtual int64_t bytes() const = 0;
  virtual std::unique_ptr<LayerState> Clone() const = 0;

  // Tokens this layer has consumed (equal to its sequence's count unless a failed call left the
  // state half-advanced).
  virtual int64_t tokens() const = 0;

  // Serialization, so a session can be saved and resumed. kind() names the layout ("kv_cache",
  // "liger"); Export() returns contents that, with tokens(), fully determine the state.
  virtual absl::string_view kind() const = 0;
  virtual LayerStateContents Export() const = 0;
  // Replaces this state (made by its mixer's NewState(), which fixes the expected layout) with
  // exported contents for `tokens` tokens, converted to this state's device and dtypes. Names,
  // shapes or integers that do not fit the layout give DATA_LOSS; nothing is changed then.
  virtual absl::Status Import(LayerStateContents contents, int64_t tokens) = 0;
};

}  // namespace liger
