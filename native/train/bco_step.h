// One BCO micro-batch on a policy model, the part of TRL 1.13's BCOTrainer.get_batch_loss_metrics that needs autograd:
// the policy's completion log-probs through the fused lm_head kernel, the running reward mean δ updated from this
// batch's rewards (train mode, as bco_loss(do_train=True)), the loss (train/bco_loss.h) against the reference's
// log-probs (computed before, without autograd), and its gradient back-propagated into the policy's .grad.
#pragma once

#include <ATen/ATen.h>

#include "models/causal_lm.h"
#include "train/bco_loss.h"
#include "train/completion_logprobs.h"
#include "train/kto_step.h"
#include "train/metric_parts.h"
#include "train/step_backward.h"

namespace alignkit::train {

// BCO's batch is KTO's: (B, T) rows as the DPO-style collator pads them, and each row's label.
using BcoBatch = KtoBatch;

// get_batch_loss_metrics' metrics as (sum, count) parts: delta (one value); for each side (chosen: desirable rows)
// rewards/, logps/ and logits/ summed over its rows and counted in rows. TRL's logits/ is the sum of every logit of
// the row's (B, T, V) output, prompt and padding positions included. A side without rows has count 0 (TRL then
// logs none of its metrics); src/train/metrics.ts pools the sums over the logging window as BCOTrainer.log does.
struct BcoStepResult {
  double loss;
  at::Tensor rewards;  // (B) β · log-ratios, detached
  at::Tensor logps;    // (B) the policy's completion log-probs, detached
  RunningMoments running;
  double delta;  // the running mean the loss used
  MetricParts metrics;
};

// refLogps (B): the reference's log-probs of the rows. `running` is updated with this batch's rewards when `update`
// (training), over every data-parallel rank's rows when allReduceSum is set; evaluation leaves it as it is.
BcoStepResult bcoStep(const models::CausalLM& policy, const BcoBatch& batch, const at::Tensor& refLogps,
                      RunningMoments running, bool update, const AllReduceSum& allReduceSum,
                      const BcoLossOptions& options, const CompletionLogProbsOptions& logpsOptions = {},
                      const StepBackward& backward = {});

}  // namespace alignkit::train
