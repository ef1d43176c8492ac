// Next-token cross-entropy of a causal LM over its real tokens: what transformers' ForCausalLMLoss computes
// for labels = input_ids with padding set to -100. The plain (unfused) loss, used to check that autograd
// through CausalLM matches PyTorch and as the forward+backward benchmark's workload.
#pragma once

#include <ATen/ATen.h>

#include "models/causal_lm.h"

namespace alignkit::train {

// inputIds (B, T); attentionMask (B, T) 0/1 or undefined. Scalar float32 loss, mean over predicted tokens.
at::Tensor causalLmLoss(const models::CausalLM& model, const at::Tensor& inputIds, const at::Tensor& attentionMask);

// Computes the loss, accumulates its gradients into the parameters' .grad, and returns the loss value.
double causalLmLossBackward(const models::CausalLM& model, const at::Tensor& inputIds, const at::Tensor& attentionMask);

// Drops every parameter's accumulated gradient.
void zeroGradients(const models::CausalLM& model);

}  // namespace alignkit::train
