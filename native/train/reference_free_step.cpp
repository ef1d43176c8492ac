#include "train/reference_free_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <vector>

#include "common/autocast.h"
#include "common/error.h"
#include "models/moe.h"
#include "ops/logits_transform.h"

namespace alignkit::train {
namespace {

// What both trainers take from one forward of the [chosen, rejected] rows.
struct PairLogProbs {
  at::Tensor chosenLogps, rejectedLogps;  // (P) summed or averaged completion log-probs, with autograd
  at::Tensor nll;                         // () the chosen rows' mean token NLL, with autograd (0 when not asked)
  double logitsChosen, logitsRejected;    // mean logit over vocabulary and positions, per side
  at::Tensor auxLoss;  // () a MoE model's load-balancing loss with the router aux loss on, else undefined
};

enum class NllTokens { None, Completion, Attended };

// concatenated_forward: position t predicts token t + 1. Labels are kept where the NLL or the completion log-probs
// need them; the mean logit is taken over the first `logitPositions` positions of every row, padding included, as
// TRL's all_logits[...].mean() (ORPO drops the last position, CPO keeps it).
PairLogProbs pairLogProbs(const models::CausalLM& model, const ReferenceFreeBatch& batch,
                          const CompletionLogProbsOptions& options, bool averaged, NllTokens nllTokens,
                          int64_t logitPositions) {
  const at::Tensor& ids = batch.inputIds;
  if (ids.dim() != 2 || ids.size(0) % 2 != 0 || ids.size(1) < 2)
    throw invalidArgument("preference step: inputIds (2P, T) of [chosen..., rejected...] rows with T >= 2 expected");
  if (!batch.completionMask.defined() || batch.completionMask.sizes() != ids.sizes())
    throw invalidArgument("preference step: completionMask must have the shape of inputIds");
  const at::Device device = model.device();
  const int64_t B = ids.size(0), P = B / 2, T = ids.size(1);
  const AutocastGuard autocast(device.type(), options.forward.bf16);
  const models::MoeConfig& moe = model.config().moe;
  std::vector<at::Tensor> routerLogits;
  const bool aux = routerAuxLossEnabled(options.forward, moe.numExperts);
  const at::Tensor hidden = model.hiddenStates(ids, batch.attentionMask, {}, options.forward.gradientCheckpointing,
                                               options.forward.checkpointedLayers,
                                               aux ? &routerLogits : nullptr);              // (B, T, C)
  const at::Tensor completion = batch.completionMask.narrow(1, 1, T - 1).to(device).ne(0);  // (B, T-1)
  const at::Tensor attended = batch.attentionMask.defined() ? batch.attentionMask.narrow(1, 1, T - 1).to(device).ne(0)
                                                            : at::ones_like(completion);
  const at::Tensor nllMask = nllTokens == NllTokens::Attended ? attended : completion;
  // Every position gets a row (the last one without a label) so the mean logit covers all of them.
  const at::Tensor target = at::cat({ids.narrow(1, 1, T - 1).to(device, at::kLong),
                                     at::full({B, 1}, -1, ids.options().dtype(at::kLong).device(device))},
                                    1);
  const at::Tensor labelled = at::cat({completion.logical_or(nllMask), at::zeros({B, 1}, completion.options())}, 1);
  const at::Tensor labels = target.masked_fill(labelled.logical_not(), -1).reshape({-1});
  const at::Tensor h = hidden.reshape({B * T, hidden.size(2)});
  const bool fused = !options.reference && (device.is_cpu() || device.is_cuda());
  const ops::LogitsTransform transform{model.config().logitsScaling, model.config().finalLogitSoftcapping};
  const ops::TokenLogProbs tok =
      fused ? ops::fusedLinearLogProbs(h, model.lmHeadWeight(), labels, options.chunks, transform)
            : ops::logprobsReference(h, model.lmHeadWeight(), labels, transform);
  const at::Tensor logps = tok.logps.view({B, T}).narrow(1, 0, T - 1);  // (B, T-1), 0 where unlabelled
  at::Tensor perRow = (logps * completion.to(at::kFloat)).sum(1);
  if (averaged) perRow = perRow / completion.sum(1).to(at::kFloat);
  PairLogProbs out;
  out.chosenLogps = perRow.narrow(0, 0, P);
  out.rejectedLogps = perRow.narrow(0, P, P);
  // nn.CrossEntropyLoss over the chosen rows: the mean over their NLL tokens.
  const at::Tensor chosenNll = nllMask.narrow(0, 0, P);
  out.nll = nllTokens == NllTokens::None
                ? at::zeros({}, logps.options())
                : -(logps.narrow(0, 0, P) * chosenNll.to(at::kFloat)).sum() / chosenNll.sum().to(at::kFloat);
  const at::Tensor meanLogit = tok.meanLogit.view({B, T}).narrow(1, 0, logitPositions).to(at::kDouble);
  out.logitsChosen = meanLogit.narrow(0, 0, P).mean().item<double>();
  out.logitsRejected = meanLogit.narrow(0, P, P).mean().item<double>();
  if (aux) out.auxLoss = models::loadBalancingLoss(routerLogits, moe.numExperts, moe.topK, batch.attentionMask);
  return out;
}

// get_batch_loss_metrics' metrics shared by both trainers, in TRL's order.
MetricParts pairMetrics(const PairLogProbs& lp, const at::Tensor& chosenRewards, const at::Tensor& rejectedRewards,
                        const ReferenceFreeBatch& batch) {
  MetricParts m;
  const double pairs = static_cast<double>(chosenRewards.numel());
  m.add("rewards/chosen", chosenRewards, pairs);
  m.add("rewards/rejected", rejectedRewards, pairs);
  m.add("rewards/accuracies", chosenRewards.gt(rejectedRewards), pairs);
  m.add("rewards/margins", chosenRewards - rejectedRewards, pairs);
  m.add("logps/rejected", lp.rejectedLogps.detach(), pairs);
  m.add("logps/chosen", lp.chosenLogps.detach(), pairs);
  m.add("logits/rejected", lp.logitsRejected, 1);
  m.add("logits/chosen", lp.logitsChosen, 1);
  m.add("nll_loss", lp.nll.detach().item<double>(), 1);
  m.numTokens = batch.attentionMask.defined() ? batch.attentionMask.sum().item<int64_t>() : batch.inputIds.numel();
  return m;
}

// The loss, plus router_aux_loss_coef × the load-balancing loss when on (get_batch_loss_metrics adds it after the
// metrics and logs no aux_loss), back-propagated.
double finish(at::Tensor loss, const PairLogProbs& lp, const CompletionLogProbsOptions& options,
              const StepBackward& backward) {
  if (lp.auxLoss.defined()) loss = loss + options.forward.routerAuxLossCoef * lp.auxLoss;
  if (backward.backward) torch::autograd::backward({loss * backward.lossScale});
  return loss.item<double>();
}

}  // namespace

ReferenceFreeStepResult orpoStep(const models::CausalLM& policy, const ReferenceFreeBatch& batch,
                                 const OrpoLossOptions& options, const CompletionLogProbsOptions& logpsOptions,
                                 const StepBackward& backward) {
  validateOrpoLossOptions(options);
  at::AutoGradMode gradMode(backward.backward);
  const int64_t T = batch.inputIds.dim() == 2 ? batch.inputIds.size(1) : 0;
  const PairLogProbs lp = pairLogProbs(policy, batch, logpsOptions, true, NllTokens::Attended, T - 1);
  const OrpoLoss loss = orpoLoss(lp.chosenLogps, lp.rejectedLogps, lp.nll, options);
  ReferenceFreeStepResult out;
  out.loss = finish(loss.loss, lp, logpsOptions, backward);
  out.metrics = pairMetrics(lp, loss.chosenRewards, loss.rejectedRewards, batch);
  out.metrics.add("log_odds_ratio", loss.logOddsRatio, 1);
  out.metrics.add("log_odds_chosen", loss.logOddsChosen, 1);
  return out;
}

ReferenceFreeStepResult cpoStep(const models::CausalLM& policy, const ReferenceFreeBatch& batch,
                                const CpoLossOptions& options, const CompletionLogProbsOptions& logpsOptions,
                                const StepBackward& backward) {
  validateCpoLossOptions(options);
  at::AutoGradMode gradMode(backward.backward);
  const int64_t T = batch.inputIds.dim() == 2 ? batch.inputIds.size(1) : 0;
  const NllTokens nll = options.cpo_alpha == 0 ? NllTokens::None : NllTokens::Completion;
  const PairLogProbs lp = pairLogProbs(policy, batch, logpsOptions, cpoAveragesLogps(options), nll, T);
  const CpoLoss loss = cpoLoss(lp.chosenLogps, lp.rejectedLogps, lp.nll, options);
  ReferenceFreeStepResult out;
  out.loss = finish(loss.loss, lp, logpsOptions, backward);
  out.metrics = pairMetrics(lp, loss.chosenRewards, loss.rejectedRewards, batch);
  return out;
}

}  // namespace alignkit::train
