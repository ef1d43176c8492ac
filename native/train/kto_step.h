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
#include "train/step_backward.h"

namespace alignkit::train {

// (B, T) each, as DataCollatorForUnpairedPreference lays them out; labels (B).
struct KtoBatch {
  at::Tensor inputIds, attentionMask, completionMask;  // attentionMask may be undefined (all ones)
  at::Tensor labels;
};

struct KtoStepResult {
  double loss;
  at::Tensor rewards;    // (B) β · log-ratios, detached
  CompletionLogProbs lp;  // the policy's, detached: logps and the per-sequence sums behind TRL's metrics
};

// refLogps (B): the reference's log-probs of the rows; kl: the batch's KL estimate (0 for apo_zero_unpaired).
KtoStepResult ktoStep(const models::CausalLM& policy, const KtoBatch& batch, const at::Tensor& refLogps, double kl,
                      const KtoLossOptions& options, const CompletionLogProbsOptions& logpsOptions = {},
                      const StepBackward& backward = {});

}  // namespace alignkit::train
