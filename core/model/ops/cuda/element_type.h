#pragma once

// The floating types the fused kernels take for activations.
namespace liger::cuda {

enum class ElementType { kFloat32, kFloat16, kBFloat16 };

}  // namespace liger::cuda
