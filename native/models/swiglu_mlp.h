// Llama's MLP, down(silu(gate(x)) * up(x)), as one autograd function that keeps less for the backward: x and the
// two projections' outputs, from which the backward recomputes silu(gate) and the product (elementwise, cheap).
// Autograd over the separate ops also keeps silu(gate) and the product: two more (tokens × intermediate) tensors
// per layer, about a third of a layer's activations. The gradients are the same ops autograd would run
// (silu_backward's formula, the matmuls of linear's backward).
#pragma once

#include <ATen/ATen.h>

namespace alignkit::models {

// x (..., hidden); gate and up (intermediate, hidden), down (hidden, intermediate), no biases; float32 (autocast
// off: its per-op casts are autograd's).
at::Tensor swigluMlp(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down);

}  // namespace alignkit::models
