#include "train/listwise_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <string>

#include "common/error.h"

namespace alignkit::train {
namespace {

MetricParts metricsOf(const ListwiseBatch& batch, const ListwiseStepResult& step) {
  const at::Tensor r = step.rewards.to(at::kCPU, at::kDouble), lp = step.logps.to(at::kCPU, at::kDouble);
  const auto* rv = r.data_ptr<double>();
  const auto* lv = lp.data_ptr<double>();
  double chosen = 0, rejected = 0, accurate = 0, chosenLogps = 0, rejectedLogps = 0, orderedPairs = 0, pairs = 0;
  int64_t start = 0;
  for (const int64_t k : batch.groupSizes) {
    const int64_t best = start, worst = start + k - 1;
    chosen += rv[best];
    rejected += rv[worst];
    accurate += rv[best] > rv[worst] ? 1 : 0;
    chosenLogps += lv[best];
    rejectedLogps += lv[worst];
    for (int64_t i = start; i < start + k; i++)
      for (int64_t j = i + 1; j < start + k; j++, pairs++) orderedPairs += rv[i] > rv[j] ? 1 : 0;
    start += k;
  }
  const double prompts = static_cast<double>(batch.groupSizes.size());
  MetricParts m;
  m.add("rewards/chosen", chosen, prompts);
  m.add("rewards/rejected", rejected, prompts);
  m.add("rewards/accuracies", accurate, prompts);
  m.add("rewards/margins", chosen - rejected, prompts);
  m.add("rewards/ranking_accuracy", orderedPairs, pairs);
  m.add("logps/chosen", chosenLogps, prompts);
  m.add("logps/rejected", rejectedLogps, prompts);
  m.numTokens = batch.attentionMask.defined() ? batch.attentionMask.sum().item<int64_t>() : batch.inputIds.numel();
  return m;
}

}  // namespace

ListwiseStepResult listwiseStep(const models::CausalLM& policy, const ListwiseBatch& batch, const at::Tensor& refLogps,
                                const ListwiseLossOptions& options, const CompletionLogProbsOptions& logpsOptions,
                                const StepBackward& backward) {
  validateListwiseLossOptions(options);
  if (batch.inputIds.dim() != 2) throw invalidArgument("listwiseStep: inputIds (N, T) expected");
  if (!refLogps.defined() || refLogps.numel() != batch.inputIds.size(0))
    throw invalidArgument("listwiseStep: reference log-probs need " + std::to_string(batch.inputIds.size(0)) +
                          " values");
  at::AutoGradMode gradMode(backward.backward);
  const CompletionLogProbs pol =
      completionLogProbs(policy, batch.inputIds, batch.attentionMask, batch.completionMask, logpsOptions);
  ListwiseLossInputs in;
  in.logps = pol.logps;
  in.refLogps = refLogps;
  in.groupSizes = batch.groupSizes;
  in.weights = batch.weights;
  const ListwiseLoss loss = listwiseLoss(in, options);
  // MoE: + router_aux_loss_coef × the router's load-balancing loss, as DPO's step adds it.
  const at::Tensor total =
      pol.auxLoss.defined() ? loss.loss + logpsOptions.forward.routerAuxLossCoef * pol.auxLoss : loss.loss;
  if (backward.backward) torch::autograd::backward({total * backward.lossScale});

  ListwiseStepResult out;
  out.loss = total.item<double>();
  out.rewards = loss.rewards;
  out.logps = pol.logps.detach();
  out.metrics = metricsOf(batch, out);
  if (pol.auxLoss.defined()) out.metrics.add("aux_loss", pol.auxLoss.item<double>(), 1);
  return out;
}

}  // namespace alignkit::train
