// One listwise micro-batch on a policy model: the completion log-probs of every answer of every prompt through the
// fused lm_head kernel (train/completion_logprobs.h), the Plackett–Luce loss (train/listwise_loss.h) against the
// reference's log-probs (computed before, without autograd), and its gradient back-propagated into the policy.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "models/causal_lm.h"
#include "train/completion_logprobs.h"
#include "train/listwise_loss.h"
#include "train/metric_parts.h"
#include "train/step_backward.h"

namespace alignkit::train {

// (N, T) rows, each prompt's answers contiguous and best first; groupSizes sums to N.
struct ListwiseBatch {
  at::Tensor inputIds, attentionMask, completionMask;  // attentionMask may be undefined (all ones)
  std::vector<int64_t> groupSizes;
  at::Tensor weights;  // (G) per-prompt loss weights, or undefined
};

// Metrics as (sum, count) parts, under DPO's names with chosen = each prompt's best answer and rejected = its worst:
// rewards/chosen, rewards/rejected, rewards/margins and rewards/accuracies (best above worst) per prompt, and
// rewards/ranking_accuracy: the share of a prompt's answer pairs whose rewards keep the order of their scores.
struct ListwiseStepResult {
  double loss;
  at::Tensor rewards;  // (N) β · log-ratios, detached
  at::Tensor logps;    // (N) the policy's completion log-probs, detached
  MetricParts metrics;
};

ListwiseStepResult listwiseStep(const models::CausalLM& policy, const ListwiseBatch& batch, const at::Tensor& refLogps,
                                const ListwiseLossOptions& options, const CompletionLogProbsOptions& logpsOptions = {},
                                const StepBackward& backward = {});

}  // namespace alignkit::train
