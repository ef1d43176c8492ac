// transformers' RMSNorm (LlamaRMSNorm): weight * (x * rsqrt(mean(x²) + eps)), in float32, and float32 autograd
// functions that keep x and the per-row rsqrt instead of the normalised x, which the backward recomputes
// (elementwise, cheap): rmsNorm alone, and normedProjections, a norm followed by the bias-free projections that
// read it (q/k/v, gate/up), which then need not keep its output either. Per decoder layer this saves three of the
// (tokens × hidden) tensors autograd over the separate ops keeps. The forward values are the op chain's, bit for bit.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "models/config.h"

namespace alignkit::models {

// x (..., hidden), weight (hidden). Under autocast, or outside float32, or without autograd recording, the op chain
// transformers runs for `kind` (normalise in float32; Llama casts back and scales, OLMo 2 scales and casts, Gemma
// scales by 1 + weight and casts); otherwise one autograd function (Gemma's on 1 + weight: the same in float32).
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps, NormKind kind = NormKind::Llama);

// Whether normedProjections may stand in for rmsNorm then at::linear without biases: autograd recording, float32,
// autocast off.
bool fusesNormedProjections(const at::Tensor& x);

// {at::linear(rmsNorm(x, weight, eps, kind), p) for p in projections}, each p (out, hidden) without bias.
std::vector<at::Tensor> normedProjections(const at::Tensor& x, const at::Tensor& weight, double eps,
                                          at::TensorList projections, NormKind kind = NormKind::Llama);

}  // namespace alignkit::models
