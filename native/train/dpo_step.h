// One DPO micro-batch on a policy model, as TRL 1.13's DPOTrainer._compute_loss runs it: reference log-probs
// (from a reference model without autograd, or precomputed as with precompute_ref_log_probs), the policy's
// completion log-probs through the fused lm_head kernel, the loss family (train/dpo_loss.h), its gradient
// back-propagated into the policy's .grad, and the metrics TRL appends for the step. With bf16 both forwards run
// under autocast, as accelerate wraps the policy's and the reference's forward; gradient checkpointing applies to
// the policy's forward only, the one autograd records; the backward runs outside autocast.
#pragma once

#include <ATen/ATen.h>

#include "models/causal_lm.h"
#include "train/completion_logprobs.h"
#include "train/dpo_loss.h"
#include "train/metric_parts.h"
#include "train/step_backward.h"

namespace alignkit::train {

// (2B, T) each, rows [chosen_0..chosen_{B-1}, rejected_0..rejected_{B-1}] (DataCollatorForPreference).
struct DpoBatch {
  at::Tensor inputIds, attentionMask, completionMask;  // attentionMask may be undefined (all ones)
};

// Either a model, or precomputed per-sequence log-probs (B) each (already LD-weighted when ld_alpha is set,
// as TRL's _precompute_ref_logps stores them).
struct DpoReference {
  const models::CausalLM* model = nullptr;
  // The model's own base weights: its LoRA adapters are switched off for the reference forward.
  bool adaptersOff = false;
  at::Tensor chosenLogps, rejectedLogps;
};

// DPOTrainer._compute_loss's metrics as (sum, count) parts (train/metric_parts.h): rewards/chosen, rewards/rejected,
// rewards/accuracies, rewards/margins, logps/chosen and logps/rejected over the B pairs; logits/chosen and
// logits/rejected (the vocabulary-mean logit) over that side's completion tokens; entropy over every completion
// token; mean_token_accuracy over the chosen completion tokens; num_tokens.
struct DpoStepResult {
  double loss;
  MetricParts metrics;
  at::Tensor chosenRewards, rejectedRewards;  // (B) β · log-ratios, detached
};

DpoStepResult dpoStep(const models::CausalLM& policy, const DpoBatch& batch, const DpoReference& reference,
                      const DpoLossOptions& options, const CompletionLogProbsOptions& logpsOptions = {},
                      const StepBackward& backward = {});

}  // namespace alignkit::train
