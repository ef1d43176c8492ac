// The Mixture-of-Experts MLP of Mixtral and Qwen3-MoE (MixtralSparseMoeBlock, Qwen3MoeSparseMoeBlock in
// transformers 5.18; Shazeer et al., https://arxiv.org/abs/1701.06538; Fedus et al., Switch Transformers,
// https://arxiv.org/abs/2101.03961) and its load-balancing auxiliary loss (load_balancing_loss_func). A linear
// router scores the experts per token; each token goes to its top-k experts, whose SwiGLU outputs are summed,
// weighted by the (renormalised) router probabilities. Tokens are grouped by expert: one gathered matmul chain per
// expert over the tokens routed to it, so a step costs top-k experts' FLOPs per token, never all experts'.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "models/config.h"

namespace alignkit::models {

// One layer's router (experts, hidden) and per-expert projections: gate and up (intermediate, hidden), down
// (hidden, intermediate). router undefined on a dense layer.
struct ExpertWeights {
  at::Tensor router;
  std::vector<at::Tensor> gate, up, down;
};

// x (B, T, hidden), already normalised; returns (B, T, hidden). When routerLogits is given, this layer's router
// logits (B * T, experts) are appended to it, with autograd, for loadBalancingLoss.
at::Tensor moeMlp(const at::Tensor& x, const ExpertWeights& w, const MoeConfig& config, Activation activation,
                  std::vector<at::Tensor>* routerLogits = nullptr);

// transformers' load_balancing_loss_func over the router logits of every MoE layer (each (B * T, experts)):
// num_experts · Σ_e f_e · P_e, where f_e is the share of top-k assignments expert e gets and P_e its mean router
// probability, both over the tokens attentionMask (B, T) marks (undefined: every token). A float32 scalar with
// autograd through P_e; the top-k choice carries no gradient.
at::Tensor loadBalancingLoss(const std::vector<at::Tensor>& routerLogits, int64_t numExperts, int64_t topK,
                             const at::Tensor& attentionMask);

}  // namespace alignkit::models
