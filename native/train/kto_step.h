// One KTO micro-batch on a policy model, the part of TRL 1.13's KTOTrainer._compute_loss that needs autograd:
// the policy's completion log-probs through the fused lm_head kernel, the loss (train/kto_loss.h) against the
// reference's log-probs and the batch's KL reference point (both computed before, without autograd: they do not
// depend on this forward), and its gradient back-propagated into the policy's .grad. With bf16 the forward runs
// under autocast and the backward outside it.
#pragma once

#include <ATen/ATen.h>

#include "models/causal_lm.h"
#include "train/completion_logprobs.h"
#include "train/kto_loss.h"
#include "train/metric_parts.h"
#include "train/step_backward.h"

namespace alignkit::train {

// (B, T) each, as DataCollatorForUnpairedPreference lays them out; labels (B).
struct KtoBatch {
  at::Tensor inputIds, attentionMask, completionMask;  // attentionMask may be undefined (all ones)
  at::Tensor labels;
};

// KTOTrainer._compute_loss's metrics as (sum, count) parts (train/metric_parts.h): kl (the batch's estimate, one
// value); entropy over every completion token; for each side (chosen: desirable rows), logits/ over its completion
// tokens and rewards/, logps/ over its rows. A side without rows has count 0: TRL then logs none of its metrics,
// and rewards/margins only when both sides have some (src/train/metrics.ts keeps both rules).
struct KtoStepResult {
  double loss;
  at::Tensor rewards;  // (B) β · log-ratios, detached
  at::Tensor logps;    // (B) the policy's completion log-probs, detached
  MetricParts metrics;
};

// refLogps (B): the reference's log-probs of the rows; kl: the batch's KL estimate (0 for apo_zero_unpaired).
KtoStepResult ktoStep(const models::CausalLM& policy, const KtoBatch& batch, const at::Tensor& refLogps, double kl,
                      const KtoLossOptions& options, const CompletionLogProbsOptions& logpsOptions = {},
                      const StepBackward& backward = {});

}  // namespace alignkit::train
