#include "train/dpo_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include "common/error.h"

namespace alignkit::train {
namespace {

// DPOTrainer._compute_loss's metrics (trl 1.13): the token metrics over completion_mask[:, 1:] (logits/ of each
// side, entropy of both, mean_token_accuracy of the chosen side), the rest over the pairs.
MetricParts metricsOf(const CompletionLogProbs& lp, const DpoLoss& loss, const DpoBatch& batch) {
  MetricParts m;
  const auto tokens = lp.tokens.chunk(2, 0), logits = lp.meanLogit.chunk(2, 0);
  const double pairs = static_cast<double>(loss.chosenRewards.numel());
  const double chosenTokens = tokens[0].sum().item<double>(), rejectedTokens = tokens[1].sum().item<double>();
  m.add("rewards/chosen", loss.chosenRewards, pairs);
  m.add("rewards/rejected", loss.rejectedRewards, pairs);
  m.add("rewards/accuracies", loss.chosenRewards.gt(loss.rejectedRewards), pairs);
  m.add("rewards/margins", loss.chosenRewards - loss.rejectedRewards, pairs);
  m.add("logps/chosen", loss.chosenLogps, pairs);
  m.add("logps/rejected", loss.rejectedLogps, pairs);
  m.add("logits/chosen", logits[0], chosenTokens);
  m.add("logits/rejected", logits[1], rejectedTokens);
  m.add("entropy", lp.entropy, chosenTokens + rejectedTokens);
  m.add("mean_token_accuracy", lp.correct.chunk(2, 0)[0], chosenTokens);
  if (lp.auxLoss.defined()) m.add("aux_loss", lp.auxLoss.item<double>(), 1);
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
  lpOptions.pairTail = options.ld_alpha.has_value();

  at::Tensor refLogps;
  if (reference.model) {
    at::NoGradGuard noGrad;
    const models::AdaptersOff off(*reference.model, reference.adaptersOff);
    CompletionLogProbsOptions refOptions = lpOptions;
    refOptions.forward.routerAuxLossCoef = 0;  // TRL drops output_router_logits for the reference forward
    const CompletionLogProbs ref =
        completionLogProbs(*reference.model, batch.inputIds, batch.attentionMask, batch.completionMask, refOptions);
    refLogps = options.ld_alpha ? ref.logps + (*options.ld_alpha - 1.0) * ref.tailLogps : ref.logps;
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
  // d loss / d(per-token logp) = gradLogps on every completion token, + gradTailLogps on the LD-DPO tail; MoE:
  // + router_aux_loss_coef × aux_loss, as DPOTrainer._compute_loss adds it.
  const double auxCoef = logpsOptions.forward.routerAuxLossCoef;
  if (backward.backward) {
    const double s = backward.lossScale;
    std::vector<at::Tensor> outputs{pol.logps}, grads{g.gradLogps * s};
    if (pol.tailLogps.defined()) outputs.push_back(pol.tailLogps), grads.push_back(g.gradTailLogps * s);
    if (pol.auxLoss.defined())
      outputs.push_back(pol.auxLoss), grads.push_back(at::full({}, auxCoef * s, pol.auxLoss.options()));
    torch::autograd::backward(outputs, grads);
  }

  DpoStepResult out;
  out.loss = g.value.loss.item<double>() + (pol.auxLoss.defined() ? auxCoef * pol.auxLoss.item<double>() : 0.0);
  out.metrics = metricsOf(pol, g.value, batch);
  out.chosenRewards = g.value.chosenRewards;
  out.rejectedRewards = g.value.rejectedRewards;
  return out;
}

}  // namespace alignkit::train
