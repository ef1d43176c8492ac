// One reward-model micro-batch, as TRL 1.13's RewardTrainer.compute_loss runs it on a *ForSequenceClassification
// model with one label: the final hidden states, the score head (models::CausalLM::lmHeadWeight() is score.weight
// for such a model) at each row's last non-pad token as transformers' GenericForSequenceClassification pools it,
// the Bradley–Terry loss of chosen over rejected (train/reward_loss below), its gradient back-propagated into the
// model's .grad, and the metrics RewardTrainer logs. With bf16 the forward runs under autocast and the backward
// outside it.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "models/causal_lm.h"
#include "train/forward_options.h"
#include "train/metric_parts.h"
#include "train/step_backward.h"

namespace alignkit::train {

// 2·P rows as TRL's reward DataCollatorForPreference lays them out: [chosen_0..chosen_{P-1},
// rejected_0..rejected_{P-1}], right padded with pad_token_id.
struct RewardBatch {
  at::Tensor inputIds, attentionMask;  // (2P, T); attentionMask may be undefined (all ones)
  at::Tensor margin;                   // (P) float, or undefined: the dataset's optional margin column
};

// RewardConfig's loss field and the pooling's pad id, under their TRL / transformers names.
struct RewardStepOptions {
  // config.pad_token_id (TRL sets it to the tokenizer's): a row is pooled at its rightmost token that is not it.
  // Unset: the last position, as transformers does without a pad token.
  std::optional<int64_t> pad_token_id;
  // center_rewards_coefficient: adds coef · mean((r_chosen + r_rejected)²) (Eisenstein et al. 2023, Eq. 2).
  std::optional<double> center_rewards_coefficient;
  ForwardOptions forward;
};

// RewardTrainer.compute_loss's metrics as (sum, count) parts (train/metric_parts.h): min_reward and max_reward
// over the 2P scores (count 1: data-parallel ranks replace them by the extrema over every rank before adding
// them up), mean_reward over the 2P scores, accuracy (r_chosen > r_rejected) and margin (r_chosen − r_rejected,
// without the margin column) over the P pairs; num_tokens: attention_mask.sum().
struct RewardStepResult {
  double loss;
  at::Tensor rewards;  // (2P) the pooled scores, float32, detached
  MetricParts metrics;
};

// The rightmost position of each row whose token is not `padTokenId` (0 for a row of pad tokens alone), as
// GenericForSequenceClassification.forward computes last_non_pad_token. inputIds (B, T); returns (B) int64.
at::Tensor lastNonPadToken(const at::Tensor& inputIds, std::optional<int64_t> padTokenId);

// The Bradley–Terry loss of RewardTrainer.compute_loss on P pairs of scores (Christiano et al. 2017,
// https://arxiv.org/abs/1706.03741; Ouyang et al. 2022, https://arxiv.org/abs/2203.02155): the chosen answer is
// preferred with probability σ(r_c − r_r [− margin]), so loss = −mean log σ(r_c − r_r − margin), plus
// center_rewards_coefficient · mean((r_c + r_r)²) when it is set. chosen, rejected (P); margin (P) or undefined.
at::Tensor rewardLoss(const at::Tensor& chosen, const at::Tensor& rejected, const at::Tensor& margin,
                      std::optional<double> centerRewardsCoefficient);

RewardStepResult rewardStep(const models::CausalLM& model, const RewardBatch& batch,
                            const RewardStepOptions& options = {}, const StepBackward& backward = {});

}  // namespace alignkit::train
