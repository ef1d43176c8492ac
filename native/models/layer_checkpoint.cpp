#include "models/layer_checkpoint.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "common/autocast.h"

namespace alignkit::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What the backward needs besides tensors: the layer, and the autocast state its forward ran under (as
// torch.utils.checkpoint records it), held in the context as an opaque capsule.
struct Recompute : torch::CustomClassHolder {
  LayerFunction layer;
  bool autocast = false;
  at::ScalarType autocastDtype = at::kBFloat16;
  at::Tensor rngState;  // the default generator's state before the forward, when the layer draws random numbers
};

at::Generator defaultGenerator(const at::Device& device) { return at::globalContext().defaultGenerator(device); }

at::Tensor generatorState(const at::Device& device) {
  at::Generator g = defaultGenerator(device);
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}

void setGeneratorState(const at::Device& device, const at::Tensor& state) {
  at::Generator g = defaultGenerator(device);
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
}

class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  // Inputs: input (B, T, C), the parameters, the layer; returns layer(input): (B, T, C) and any side outputs. A
  // custom Function's forward runs without autograd, so nothing inside the layer is kept; the parameters are saved
  // by reference.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, at::TensorList parameters,
                               const LayerFunction& layer, bool preserveRng) {
    const at::DeviceType device = input.device().type();
    auto recompute = c10::make_intrusive<Recompute>();
    recompute->layer = layer;
    recompute->autocast = at::autocast::is_autocast_enabled(device);
    recompute->autocastDtype = at::autocast::get_autocast_dtype(device);
    if (preserveRng) recompute->rngState = generatorState(input.device());
    ctx->saved_data["recompute"] = at::IValue::make_capsule(std::move(recompute));
    variable_list saved{input};
    saved.insert(saved.end(), parameters.begin(), parameters.end());
    ctx->save_for_backward(saved);
    return layer(input);
  }

  // One gradient per forward input: the input's, each parameter's, none for the layer function and the flag.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    variable_list out(saved.size() + 2);
    if (std::none_of(grads.begin(), grads.end(), [](const at::Tensor& g) { return g.defined(); })) return out;
    const auto recompute = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());

    // A leaf copy of the input, so the recomputed graph stops at the layer boundary and gives d/d(input).
    const at::Tensor input = saved[0].detach().requires_grad_(ctx->needs_input_grad(0));
    variable_list outputs;
    {
      at::AutoGradMode grad(true);
      AutocastGuard autocast(input.device().type(), recompute->autocast, recompute->autocastDtype);
      const at::Tensor rngNow = recompute->rngState.defined() ? generatorState(input.device()) : at::Tensor();
      if (rngNow.defined()) setGeneratorState(input.device(), recompute->rngState);
      outputs = recompute->layer(input);
      if (rngNow.defined()) setGeneratorState(input.device(), rngNow);
    }
    // Differentiate (outside autocast, as backward always runs) with respect to what needs a gradient.
    variable_list wrt;
    std::vector<size_t> where;
    for (size_t i = 0; i < saved.size(); ++i) {
      if (!ctx->needs_input_grad(i)) continue;
      wrt.push_back(i == 0 ? input : saved[i]);
      where.push_back(i);
    }
    if (wrt.empty()) return out;
    // The outputs whose gradient arrived (a side output the loss did not read has none).
    variable_list from, fromGrads;
    for (size_t i = 0; i < outputs.size() && i < grads.size(); ++i)
      if (grads[i].defined() && outputs[i].requires_grad()) from.push_back(outputs[i]), fromGrads.push_back(grads[i]);
    if (from.empty()) return out;
    const variable_list g = torch::autograd::grad(from, wrt, fromGrads, /*retain_graph=*/false,
                                                  /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t j = 0; j < where.size(); ++j) out[where[j]] = g[j];
    return out;
  }
};

}  // namespace

std::vector<at::Tensor> checkpointLayer(const LayerFunction& layer, const at::Tensor& input,
                                        const std::vector<at::Tensor>& parameters, bool preserveRng) {
  return CheckpointedLayer::apply(input, at::TensorList(parameters), layer, preserveRng);
}

}  // namespace alignkit::models
