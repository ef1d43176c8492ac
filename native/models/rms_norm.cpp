#include "models/rms_norm.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

namespace alignkit::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// rsqrt(mean(x²) + eps) over the last dimension, kept (..., 1): the forward's per-row factor.
at::Tensor inverseRms(const at::Tensor& x, double eps) { return at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps); }

// transformers' weight * (x * rstd); the product's operands commute exactly, so scaling in place is the same.
at::Tensor normalise(const at::Tensor& x, const at::Tensor& rstd, const at::Tensor& weight) {
  return (x * rstd).mul_(weight);
}

// The gradients of y = weight * (x * rstd) given dn = dL/dy, as (N, hidden) rows, by the ops autograd runs backwards
// through the forward's chain (mul, mul, rsqrt, add, mean, pow) in its order, so they are its own bit for bit.
// x's comes in autograd's two parts, through the product x * rstd and through the square; their sum is dL/dx.
// xhat is x * rstd, which the weight's gradient reads.
struct NormGradients {
  at::Tensor xProduct, xSquare, weight;
};

NormGradients normBackward(const at::Tensor& dn, const at::Tensor& x, const at::Tensor& xhat, const at::Tensor& rstd,
                           const at::Tensor& weight, bool needX, bool needWeight) {
  NormGradients out;
  if (needWeight) out.weight = (dn * xhat).sum(0);
  if (!needX) return out;
  const at::Tensor dNormalised = dn * weight;
  const at::Tensor dRstd = (dNormalised * x).sum(-1, /*keepdim=*/true);
  const at::Tensor dMeanSquare = -0.5 * dRstd * rstd.pow(3);
  const at::Tensor dSquare = dMeanSquare.expand(x.sizes()) / x.size(-1);
  out.xProduct = dNormalised * rstd;
  out.xSquare = dSquare * (2 * x.pow(1));
  return out;
}

class RmsNorm : public torch::autograd::Function<RmsNorm> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps) {
    const at::Tensor rstd = inverseRms(x, eps);
    ctx->save_for_backward({x, rstd, weight});
    return normalise(x, rstd, weight);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &rstd = saved[1], &weight = saved[2];
    const int64_t hidden = x.size(-1);
    const at::Tensor x2 = x.reshape({-1, hidden}), rstd2 = rstd.reshape({-1, 1});
    const bool needWeight = ctx->needs_input_grad(1);
    NormGradients d = normBackward(grads[0].reshape({-1, hidden}), x2, needWeight ? x2 * rstd2 : at::Tensor(), rstd2,
                                   weight, ctx->needs_input_grad(0), needWeight);
    return {d.xProduct.defined() ? d.xProduct.add_(d.xSquare).view(x.sizes()) : at::Tensor(), d.weight, at::Tensor()};
  }
};

// x comes in twice (x and xAgain, the same tensor) to take the two parts of its gradient: autograd adds each to what
// already reached x, one after the other, as it does for the op chain, where the product and the square are two
// uses of x (and in a decoder layer the residual's gradient arrives first).
class NormedProjections : public torch::autograd::Function<NormedProjections> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& /*xAgain*/,
                               const at::Tensor& weight, at::TensorList projections, double eps) {
    const at::Tensor rstd = inverseRms(x, eps);
    const at::Tensor normed = normalise(x, rstd, weight);
    variable_list saved{x, rstd, weight};
    variable_list out;
    for (const at::Tensor& p : projections) {
      saved.push_back(p);
      out.push_back(at::linear(normed, p));
    }
    ctx->save_for_backward(saved);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &rstd = saved[1], &weight = saved[2];
    const int64_t hidden = x.size(-1);
    const at::Tensor x2 = x.reshape({-1, hidden}), rstd2 = rstd.reshape({-1, 1});
    const size_t count = saved.size() - 3;
    // x * rstd and the normalised input again, for the norm's and the projections' weight gradients.
    const at::Tensor xhat = x2 * rstd2;
    at::Tensor normed = xhat * weight;
    // Autograd runs the projections' backwards last-made first and adds up what reaches the normalised input in
    // that order.
    at::Tensor dNormed;
    variable_list dProjections(count);
    for (size_t i = count; i-- > 0;) {
      if (!grads[i].defined()) continue;
      const at::Tensor& p = saved[3 + i];
      const at::Tensor dy = grads[i].reshape({-1, p.size(0)});
      if (ctx->needs_input_grad(3 + i)) dProjections[i] = dy.t().mm(normed);
      dNormed = dNormed.defined() ? dNormed.add_(dy.mm(p)) : dy.mm(p);
    }
    normed.reset();
    variable_list out(count + 4);
    if (dNormed.defined()) {
      NormGradients d =
          normBackward(dNormed, x2, xhat, rstd2, weight, ctx->needs_input_grad(0), ctx->needs_input_grad(2));
      if (d.xProduct.defined()) out[0] = d.xProduct.view(x.sizes()), out[1] = d.xSquare.view(x.sizes());
      out[2] = d.weight;
    }
    for (size_t i = 0; i < count; ++i) out[3 + i] = dProjections[i];
    return out;  // the last entry, eps's, stays undefined
  }
};

// Gemma stores its norm weights as offsets from 1: float32 (1 + w) is the scale the others store.
at::Tensor effectiveWeight(const at::Tensor& weight, NormKind kind) {
  return kind == NormKind::Gemma ? 1.0 + weight.to(at::kFloat) : weight;
}

}  // namespace

bool fusesNormedProjections(const at::Tensor& x) {
  return at::GradMode::is_enabled() && x.scalar_type() == at::kFloat &&
         !at::autocast::is_autocast_enabled(x.device().type());
}

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps, NormKind kind) {
  if (fusesNormedProjections(x) && weight.scalar_type() == at::kFloat)
    return RmsNorm::apply(x, effectiveWeight(weight, kind), eps);
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  switch (kind) {
    case NormKind::Olmo:
      return (weight * normed).to(x.scalar_type());
    case NormKind::Gemma:
      return (normed * effectiveWeight(weight, kind)).to(x.scalar_type());
    case NormKind::Llama:
      break;
  }
  return weight * normed.to(x.scalar_type());
}

std::vector<at::Tensor> normedProjections(const at::Tensor& x, const at::Tensor& weight, double eps,
                                          at::TensorList projections, NormKind kind) {
  return NormedProjections::apply(x, x, effectiveWeight(weight, kind), projections, eps);
}

}  // namespace alignkit::models
