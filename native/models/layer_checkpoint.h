// Gradient checkpointing of one decoder layer, with the result of transformers' gradient_checkpointing_enable()
// (torch.utils.checkpoint, use_reentrant=False): the forward keeps only the layer's input, not its activations;
// the backward re-runs the layer with autograd on, under the autocast state the forward ran in, and
// back-propagates through the recomputed graph, so the gradients are those of the unchecked layer. A layer that
// draws random numbers (LoRA dropout) passes preserveRng: the device's default generator is replayed from its
// forward state in the recompute, as torch.utils.checkpoint's preserve_rng_state does.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace alignkit::models {

// The layer's output first, then any side outputs that a loss also reads (a MoE layer's router logits).
using LayerFunction = std::function<std::vector<at::Tensor>(const at::Tensor&)>;

// layer(input), checkpointed. `parameters` are the tensors `layer` reads that may need a gradient (its weights);
// their gradients reach autograd as if the layer had run unchecked, from every output. `layer` must stay callable
// until backward.
std::vector<at::Tensor> checkpointLayer(const LayerFunction& layer, const at::Tensor& input,
                                        const std::vector<at::Tensor>& parameters, bool preserveRng = false);

}  // namespace alignkit::models
