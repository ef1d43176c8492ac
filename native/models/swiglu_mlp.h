// The end of Llama's MLP, down(silu(g) * u) for the gate and up projections g, u (normedProjections makes them), as
// one autograd function that keeps g and u only: the backward recomputes silu(g) and the product (elementwise,
// cheap) and works in g's and u's memory, which nothing else reads. Autograd over the separate ops also keeps
// silu(g) and the product, two more (tokens × intermediate) tensors per layer, about a third of a layer's
// activations, and its backward holds five such temporaries at once where this holds one. The gradients are the
// ops autograd would run (silu_backward's formula, the matmuls of linear's backward).
#pragma once

#include <ATen/ATen.h>

namespace alignkit::models {

// g and u (..., intermediate), down (hidden, intermediate) without bias; float32 (autocast off: its per-op casts
// are autograd's). g and u must be this function's alone: its backward overwrites them.
at::Tensor swigluDown(const at::Tensor& g, const at::Tensor& u, const at::Tensor& down);

}  // namespace alignkit::models
