#include "models/swiglu_mlp.h"

#include <torch/csrc/autograd/custom_function.h>

namespace alignkit::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class SwigluMlp : public torch::autograd::Function<SwigluMlp> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& gate, const at::Tensor& up,
                            const at::Tensor& down) {
    const at::Tensor g = at::linear(x, gate);
    const at::Tensor u = at::linear(x, up);
    ctx->save_for_backward({x, g, u, gate, up, down});
    return at::linear(at::silu(g) * u, down);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &g = saved[1], &u = saved[2], &gate = saved[3], &up = saved[4], &down = saved[5];
    const at::Tensor dy = grads[0].reshape({-1, down.size(0)});
    const at::Tensor x2 = x.reshape({-1, x.size(-1)}), g2 = g.reshape({-1, g.size(-1)}), u2 = u.reshape({-1, u.size(-1)});
    const at::Tensor silu = at::silu(g2);
    const at::Tensor dh = dy.mm(down);  // (N, intermediate)
    const at::Tensor du = dh * silu;
    const at::Tensor dg = at::silu_backward(dh * u2, g2);
    // Frozen weights (LoRA elsewhere in the model) get no gradient, as autograd would skip them.
    const auto grad = [&](size_t input, auto make) { return ctx->needs_input_grad(input) ? make() : at::Tensor(); };
    return {grad(0, [&] { return dg.mm(gate).addmm_(du, up).view(x.sizes()); }), grad(1, [&] { return dg.t().mm(x2); }),
            grad(2, [&] { return du.t().mm(x2); }), grad(3, [&] { return dy.t().mm(silu * u2); })};
  }
};

}  // namespace

at::Tensor swigluMlp(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down) {
  return SwigluMlp::apply(x, gate, up, down);
}

}  // namespace alignkit::models
