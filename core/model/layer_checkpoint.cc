#include "core/model/layer_checkpoint.h"

#include <utility>

#include <torch/torch.h>

namespace liger {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Keeps the layer's closure alive inside the autograd graph until backward.
struct LayerClosure : torch::CustomClassHolder {
  explicit LayerClosure(std::function<torch::Tensor(const torch::Tensor&)> f) : run(std::move(f)) {}
  std::function<torch::Tensor(const torch::Tensor&)> run;
};

class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, c10::intrusive_ptr<LayerClosure> closure,
                               const torch::Tensor& input, at::TensorList parameters) {
    std::vector<torch::Tensor> saved = {input};
    saved.insert(saved.end(), parameters.begin(), parameters.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["layer"] = c10::IValue::make_capsule(closure);
    torch::NoGradGuard no_grad;
    return closure->run(input);
  }

  // Gradients in forward's argument order: none for the closure, then the input, then each
  // parameter.
  static variable_list backward(AutogradContext* ctx, variable_list output_grads) {
    variable_list saved = ctx->get_saved_variables();
    auto closure = ctx->saved_data["layer"].toCapsule();
    const auto& layer = static_cast<const LayerClosure&>(*closure);
    torch::AutoGradMode grad_on(true);
    const torch::Tensor input = saved[0].detach().requires_grad_(saved[0].requires_grad());
    const torch::Tensor output = layer.run(input);
    variable_list wanted, grads(saved.size() + 1);
    std::vector<size_t> slots;
    for (size_t i = 0; i < saved.size(); ++i) {
      const torch::Tensor& t = i == 0 ? input : saved[i];
      if (t.requires_grad()) {
        wanted.push_back(t);
        slots.push_back(i + 1);
      }
    }
    if (wanted.empty() || !output.requires_grad()) return grads;
    variable_list found = torch::autograd::grad({output}, wanted, {output_grads[0]},
                                                /*retain_graph=*/false, /*create_graph=*/false,
                                                /*allow_unused=*/true);
    for (size_t i = 0; i < found.size(); ++i) grads[slots[i]] = found[i];
    return grads;
  }
};

}  // namespace

torch::Tensor CheckpointLayer(std::function<torch::Tensor(const torch::Tensor&)> layer,
                              const torch::Tensor& input,
                              const std::vector<torch::Tensor>& parameters) {
  // A TensorList (not a vector) is what autograd counts as tensor inputs, one per element.
  return CheckpointedLayer::apply(c10::make_intrusive<LayerClosure>(std::move(layer)), input,
                                  at::TensorList(parameters));
}

}  // namespace liger
