#include "core/model/layer_checkpoint.h"

#include <mutex>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace liger {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Keeps the layer's closure alive inside the autograd graph until backward, with the state of the
// random generator the layer draws from (e.g. for dropout) as it was when the layer first ran.
struct LayerClosure : torch::CustomClassHolder {
  LayerClosure(std::function<torch::Tensor(const torch::Tensor&)> f, at::Generator g)
      : run(std::move(f)), generator(std::move(g)) {}
  std::function<torch::Tensor(const torch::Tensor&)> run;
  at::Generator generator;
  torch::Tensor generator_state;
};

torch::Tensor GeneratorState(at::Generator& generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(at::Generator& generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// Puts a generator back into the state it had when this was made.
class GeneratorRestorer {
 public:
  explicit GeneratorRestorer(at::Generator& generator)
      : generator_(generator), state_(GeneratorState(generator)) {}
  ~GeneratorRestorer() { SetGeneratorState(generator_, state_); }
  GeneratorRestorer(const GeneratorRestorer&) = delete;
  GeneratorRestorer& operator=(const GeneratorRestorer&) = delete;

 private:
  at::Generator& generator_;
  torch::Tensor state_;
};

class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, c10::intrusive_ptr<LayerClosure> closure,
                               const torch::Tensor& input, at::TensorList parameters) {
    std::vector<torch::Tensor> saved = {input};
    saved.insert(saved.end(), parameters.begin(), parameters.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["layer"] = c10::IValue::make_capsule(closure);
    closure->generator_state = GeneratorState(closure->generator);
    torch::NoGradGuard no_grad;
    return closure->run(input);
  }

  // Gradients in forward's argument order: none for the closure, then the input, then each
  // parameter.
  static variable_list backward(AutogradContext* ctx, variable_list output_grads) {
    variable_list saved = ctx->get_saved_variables();
    auto closure = ctx->saved_data["layer"].toCapsule();
    auto& layer = static_cast<LayerClosure&>(*closure);
    torch::AutoGradMode grad_on(true);
    const torch::Tensor input = saved[0].detach().requires_grad_(saved[0].requires_grad());
    // The recomputation draws the same random numbers as the first run; the generator then
    // continues from where it was.
    GeneratorRestorer restore_after(layer.generator);
    SetGeneratorState(layer.generator, layer.generator_state);
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
  at::Generator generator = input.is_cpu() ? at::detail::getDefaultCPUGenerator()
                                           : at::globalContext().defaultGenerator(input.device());
  return CheckpointedLayer::apply(c10::make_intrusive<LayerClosure>(std::move(layer), generator),
                                  input, at::TensorList(parameters));
}

}  // namespace liger
