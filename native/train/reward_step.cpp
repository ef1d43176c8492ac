#include "train/reward_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <string>

#include "common/autocast.h"
#include "common/error.h"

namespace alignkit::train {

at::Tensor lastNonPadToken(const at::Tensor& inputIds, std::optional<int64_t> padTokenId) {
  const int64_t T = inputIds.size(1);
  if (!padTokenId) return at::full({inputIds.size(0)}, T - 1, inputIds.options().dtype(at::kLong));
  // (token_indices * non_pad_mask).argmax(-1) in int32, as transformers writes it: ties (a row of pad tokens
  // alone) go to the first position.
  const at::Tensor nonPad = inputIds.ne(*padTokenId).to(at::kInt);
  const at::Tensor positions = at::arange(T, inputIds.options().dtype(at::kInt));
  return (positions * nonPad).argmax(-1).to(at::kLong);
}

at::Tensor rewardLoss(const at::Tensor& chosen, const at::Tensor& rejected, const at::Tensor& margin,
                      std::optional<double> centerRewardsCoefficient) {
  at::Tensor diff = chosen - rejected;
  if (margin.defined()) diff = diff - margin;
  at::Tensor loss = -at::log_sigmoid(diff).mean();
  if (centerRewardsCoefficient) loss = loss + *centerRewardsCoefficient * (chosen + rejected).pow(2).mean();
  return loss;
}

namespace {

// The pooled scores (B) of the rows, with autograd; the autocast region (bf16) closes on return.
at::Tensor pooledScores(const models::CausalLM& model, const RewardBatch& batch, const RewardStepOptions& options) {
  const AutocastGuard autocast(model.device().type(), options.forward.bf16);
  const at::Tensor ids = batch.inputIds.to(model.device());
  const at::Tensor hidden =
      model.hiddenStates(ids, batch.attentionMask, at::Tensor(), options.forward.gradientCheckpointing,
                         options.forward.checkpointedLayers);
  const at::Tensor last = lastNonPadToken(ids, options.pad_token_id);
  const at::Tensor rows = at::arange(hidden.size(0), last.options());
  // score(hidden)[rows, last] computed on the pooled rows only: a linear layer acts on each position alone.
  const at::Tensor pooled = hidden.index({rows, last});  // (B, C)
  return at::linear(pooled, model.lmHeadWeight()).select(1, 0);
}

MetricParts metricsOf(const at::Tensor& rewards, const at::Tensor& chosen, const at::Tensor& rejected,
                      const RewardBatch& batch) {
  const double rows = static_cast<double>(rewards.numel()), pairs = static_cast<double>(chosen.numel());
  MetricParts m;
  m.add("min_reward", rewards.min().item<double>(), 1);
  m.add("mean_reward", rewards, rows);
  m.add("max_reward", rewards.max().item<double>(), 1);
  m.add("accuracy", chosen.gt(rejected), pairs);
  m.add("margin", chosen - rejected, pairs);
  m.numTokens = batch.attentionMask.defined() ? batch.attentionMask.sum().item<int64_t>() : batch.inputIds.numel();
  return m;
}

}  // namespace

RewardStepResult rewardStep(const models::CausalLM& model, const RewardBatch& batch, const RewardStepOptions& options,
                            const StepBackward& backward) {
  if (model.config().numLabels != 1)
    throw invalidArgument("rewardStep: the model must be a *ForSequenceClassification model with one label (has " +
                          std::to_string(model.config().numLabels) + ")");
  if (batch.inputIds.dim() != 2 || batch.inputIds.size(0) % 2 != 0)
    throw invalidArgument("rewardStep: inputIds (2P, T) of [chosen, rejected] pairs expected");
  const int64_t pairs = batch.inputIds.size(0) / 2;
  if (batch.margin.defined() && batch.margin.numel() != pairs)
    throw invalidArgument("rewardStep: margin needs " + std::to_string(pairs) + " values, one per pair");

  at::AutoGradMode gradMode(backward.backward);
  // In float32, as accelerate's autocast forward converts the model's outputs (convert_outputs_to_fp32) before
  // RewardTrainer.compute_loss takes the loss.
  const at::Tensor rewards = pooledScores(model, batch, options).to(at::kFloat);
  const at::Tensor chosen = rewards.narrow(0, 0, pairs), rejected = rewards.narrow(0, pairs, pairs);
  const at::Tensor margin =
      batch.margin.defined() ? batch.margin.to(rewards.device(), at::kFloat).reshape({-1}) : at::Tensor();
  const at::Tensor loss = rewardLoss(chosen, rejected, margin, options.center_rewards_coefficient);
  if (backward.backward) torch::autograd::backward({loss * backward.lossScale});

  RewardStepResult out;
  out.loss = loss.item<double>();
  out.rewards = rewards.detach();
  const at::NoGradGuard noGrad;
  out.metrics = metricsOf(out.rewards, chosen.detach(), rejected.detach(), batch);
  return out;
}

}  // namespace alignkit::train
