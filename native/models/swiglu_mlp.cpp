#include "models/swiglu_mlp.h"

#include <torch/csrc/autograd/custom_function.h>

namespace alignkit::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class SwigluDown : public torch::autograd::Function<SwigluDown> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g, const at::Tensor& u, const at::Tensor& down) {
    ctx->save_for_backward({g, u, down});
    return at::linear(at::silu(g) * u, down);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& down = saved[2];
    const int64_t intermediate = down.size(1);
    at::Tensor g = saved[0].reshape({-1, intermediate}), u = saved[1].reshape({-1, intermediate});
    const at::Tensor dy = grads[0].reshape({-1, down.size(0)});
    // One (tokens × intermediate) temporary: the product for down's gradient, then dL/d(product).
    at::Tensor buffer = at::silu(g).mul_(u);
    const at::Tensor dDown = ctx->needs_input_grad(2) ? dy.t().mm(buffer) : at::Tensor();
    at::Tensor& dProduct = at::mm_out(buffer, dy, down);
    // dg = silu'(g) ⊙ dProduct ⊙ u into u's memory, then du = dProduct ⊙ silu(g) into dProduct's.
    at::Tensor& dg = at::silu_backward_out(u, u.mul_(dProduct), g);
    at::Tensor& du = dProduct.mul_(at::silu_(g));
    return {dg.view(saved[0].sizes()), du.view(saved[1].sizes()), dDown};
  }
};

}  // namespace

at::Tensor swigluDown(const at::Tensor& g, const at::Tensor& u, const at::Tensor& down) {
  return SwigluDown::apply(g, u, down);
}

}  // namespace alignkit::models
