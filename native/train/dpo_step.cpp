#include "train/dpo_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include "common/error.h"

namespace alignkit::train {
namespace {

double ratio(const at::Tensor& num, const at::Tensor& den) {
  const double d = den.sum().item<double>();
  return d > 0 ? num.sum().item<float>() / d : 0.0;
}

// DPOTrainer._compute_loss lines 1623-1691 (trl 1.13): token-weighted means for entropy, logits and
// mean_token_accuracy; per-pair means for rewards and logps.
DpoMetrics metricsOf(const CompletionLogProbs& lp, const DpoLoss& loss, const DpoBatch& batch) {
  DpoMetrics m;
  const auto tokens = lp.tokens.chunk(2, 0), logits = lp.meanLogit.chunk(2, 0);
  m.entropy = ratio(lp.entropy, lp.tokens);
  m.logitsChosen = ratio(logits[0], tokens[0]);
  m.logitsRejected = ratio(logits[1], tokens[1]);
  m.meanTokenAccuracy = ratio(lp.correct.chunk(2, 0)[0].to(at::kFloat), tokens[0]);
  m.rewardsChosen = loss.chosenRewards.mean().item<float>();
  m.rewardsRejected = loss.rejectedRewards.mean().item<float>();
  m.rewardsAccuracies = loss.chosenRewards.gt(loss.rejectedRewards).to(at::kFloat).mean().item<float>();
  m.rewardsMargins = (loss.chosenRewards - loss.rejectedRewards).mean().item<float>();
  m.logpsChosen = loss.chosenLogps.mean().item<float>();
  m.logpsRejected = loss.rejectedLogps.mean().item<float>();
  m.numTokens = batch.attentionMask.defined() ? batch.attentionMask.sum().item<int64_t>() : batch.inputIds.numel();
  return m;
}

}  // namespace

DpoStepResult dpoStep(const models::CausalLM& policy, const DpoBatch& batch, const DpoReference& reference,
                      const DpoLossOptions& options, const CompletionLogProbsOptions& logpsOptions,
                      const StepBackward& backward) {
  validateDpoLossOptions(options);
  if (batch.inputIds.dim() != 2 || batch.inputIds.size(0) % 2 != 0)
    throw invalidArgument("dpoStep: inputIds (2B, T) of [chosen..., rejected...] rows expected");
  const int64_t pairs = batch.inputIds.size(0) / 2;
  CompletionLogProbsOptions lpOptions = logpsOptions;
  lpOptions.pairTail = options.ldAlpha.has_value();

  at::Tensor refLogps;
  if (reference.model) {
    at::NoGradGuard noGrad;
    const models::AdaptersOff off(*reference.model, reference.adaptersOff);
    const CompletionLogProbs ref =
        completionLogProbs(*reference.model, batch.inputIds, batch.attentionMask, batch.completionMask, lpOptions);
    refLogps = options.ldAlpha ? ref.logps + (*options.ldAlpha - 1.0) * ref.tailLogps : ref.logps;
  } else {
    if (!reference.chosenLogps.defined() || reference.chosenLogps.numel() != pairs ||
        !reference.rejectedLogps.defined() || reference.rejectedLogps.numel() != pairs)
      throw invalidArgument("dpoStep: precomputed reference chosen and rejected log-probs need " +
                            std::to_string(pairs) + " values each");
    refLogps = at::cat({reference.chosenLogps.reshape({-1}), reference.rejectedLogps.reshape({-1})}).to(at::kFloat);
  }

  at::AutoGradMode gradMode(backward.backward);
  const CompletionLogProbs pol =
      completionLogProbs(policy, batch.inputIds, batch.attentionMask, batch.completionMask, lpOptions);
  DpoLossInputs in;
  in.logps = pol.logps;
  in.tailLogps = pol.tailLogps;
  in.refLogps = refLogps.to(pol.logps.device());
  in.completionLengths = batch.completionMask.to(pol.logps.device()).ne(0).sum(1);
  in.predictedTokens = pol.tokens;
  in.logSumSquaredProbs = pol.logSumSquaredProbs;
  const DpoLossGradient g = dpoLossGradient(in, options);
  // d loss / d(per-token logp) = gradLogps on every completion token, + gradTailLogps on the LD-DPO tail.
  if (backward.backward) {
    const double s = backward.lossScale;
    if (pol.tailLogps.defined())
      torch::autograd::backward({pol.logps, pol.tailLogps}, {g.gradLogps * s, g.gradTailLogps * s});
    else
      torch::autograd::backward({pol.logps}, {g.gradLogps * s});
  }

  DpoStepResult out;
  out.loss = g.value.loss.item<double>();
  out.metrics = metricsOf(pol, g.value, batch);
  out.chosenRewards = g.value.chosenRewards;
  out.rejectedRewards = g.value.rejectedRewards;
  return out;
}

}  // namespace alignkit::train
