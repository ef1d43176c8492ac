// Per-sequence log-probability of the completion tokens under the policy: what TRL's DPOTrainer._compute_loss
// computes as selective_log_softmax(logits[:, :-1], input_ids[:, 1:]) masked by completion_mask[:, 1:] and
// summed over the sequence, and the token-level metrics it logs from the same logits (logits/chosen and
// /rejected, entropy, mean_token_accuracy), as per-sequence sums so the trainer can split chosen/rejected.
// On CPU and CUDA the lm_head is fused into the log-prob gathering (ops/fused_linear_logprobs.h): the
// (B, T, V) logits are never materialised.
#pragma once

#include <ATen/ATen.h>

#include "models/causal_lm.h"
#include "ops/fused_linear_logprobs.h"
#include "train/forward_options.h"

namespace alignkit::train {

struct CompletionLogProbsOptions {
  ops::ChunkSizes chunks;
  // The plain path (full logits -> log_softmax -> gather, ops::logprobsReference); the fused one is checked
  // against it. Also what devices without a fused kernel (neither CPU nor CUDA) use.
  bool reference = false;
  // Also return tailLogps, for LD-DPO (ld_alpha): the batch is preference pairs [chosen_0..chosen_{B/2-1},
  // rejected_0..rejected_{B/2-1}], and the tail of a completion is its tokens past the pair's shorter length.
  bool pairTail = false;
  // bf16 autocast and gradient checkpointing for the forward; the autocast region closes before this returns,
  // so a backward from the results runs outside it, as in PyTorch.
  ForwardOptions forward;
};

// All (B). logps float32 with autograd to every parameter; the rest detached.
struct CompletionLogProbs {
  at::Tensor logps;      // sum over completion tokens of log p(token)
  at::Tensor tokens;     // number of completion tokens that are predicted (completion_mask[:, 1:].sum(1)), int64
  at::Tensor meanLogit;  // sum over completion tokens of the vocabulary-mean logit
  at::Tensor entropy;    // sum over completion tokens of the softmax entropy
  at::Tensor correct;    // number of completion tokens whose argmax logit is the token, int64
  at::Tensor logSumSquaredProbs;  // sum over completion tokens of log sum_v p_v^2 (WPO's log_denom)
  at::Tensor tailLogps;           // with pairTail: the part of logps past min(chosen, rejected) tokens, with autograd
  // With forward.routerAuxLossCoef on a MoE model: the load-balancing loss of this forward (a scalar, with autograd;
  // attention-mask aware as transformers' MoE forward computes it). Undefined otherwise.
  at::Tensor auxLoss;
};

// inputIds (B, T); attentionMask (B, T) 0/1 or undefined; completionMask (B, T) 0/1, 1 on completion tokens.
CompletionLogProbs completionLogProbs(const models::CausalLM& model, const at::Tensor& inputIds,
                                      const at::Tensor& attentionMask, const at::Tensor& completionMask,
                                      const CompletionLogProbsOptions& options = {});

// Computes them, back-propagates sum_b gradOutput[b] * logps[b] into the parameters' .grad (gradOutput (B) is
// dLoss/dlogps of whatever loss the caller builds from logps; all ones gives the gradient of sum(logps)), and
// returns the values detached.
CompletionLogProbs completionLogProbsBackward(const models::CausalLM& model, const at::Tensor& inputIds,
                                              const at::Tensor& attentionMask, const at::Tensor& completionMask,
                                              const at::Tensor& gradOutput,
                                              const CompletionLogProbsOptions& options = {});

}  // namespace alignkit::train
