// One ORPO or CPO micro-batch on a policy model, TRL 1.13's experimental ORPOTrainer / CPOTrainer
// get_batch_loss_metrics: no reference model. One forward of the [chosen, rejected] rows through the fused lm_head
// kernel (ops/fused_linear_logprobs.h) gives every token's log-prob: summed (or averaged per token) over each
// completion for the preference term, and over the chosen rows' NLL tokens for the NLL term (ORPO: prompt and
// completion, every attended token; CPO: the completion). The loss (train/orpo_loss.h, train/cpo_loss.h) is
// back-propagated into the policy's .grad. With bf16 the forward runs under autocast and the backward outside it.
// With logpsOptions.forward.routerAuxLossCoef on a MoE model (TRL: the model config's output_router_logits), the
// loss adds that coefficient times the load-balancing loss (models/moe.h), as both trainers do, unlogged.
#pragma once

#include <ATen/ATen.h>

#include "models/causal_lm.h"
#include "train/completion_logprobs.h"
#include "train/cpo_loss.h"
#include "train/metric_parts.h"
#include "train/orpo_loss.h"
#include "train/step_backward.h"

namespace alignkit::train {

// (2P, T) each, rows [chosen_0..chosen_{P-1}, rejected_0..rejected_{P-1}] right padded, as ORPOTrainer's
// concatenated_inputs lays them out; completionMask: 1 where concatenated_labels is not -100.
struct ReferenceFreeBatch {
  at::Tensor inputIds, attentionMask, completionMask;  // attentionMask may be undefined (all ones)
};

// The step's loss and TRL's metrics of the micro-batch as (sum, count) parts (train/metric_parts.h): rewards/ and
// logps/ over the pairs; logits/, nll_loss (and ORPO's log_odds_ratio, log_odds_chosen) as one value each, since
// TRL gathers each process's mean of them (src/train/metrics.ts averages those over data-parallel ranks).
struct ReferenceFreeStepResult {
  double loss;
  MetricParts metrics;
};

ReferenceFreeStepResult orpoStep(const models::CausalLM& policy, const ReferenceFreeBatch& batch,
                                 const OrpoLossOptions& options, const CompletionLogProbsOptions& logpsOptions = {},
                                 const StepBackward& backward = {});

ReferenceFreeStepResult cpoStep(const models::CausalLM& policy, const ReferenceFreeBatch& batch,
                                const CpoLossOptions& options, const CompletionLogProbsOptions& logpsOptions = {},
                                const StepBackward& backward = {});

}  // namespace alignkit::train
