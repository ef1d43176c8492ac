#include "train/kto_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <string>

#include "common/error.h"

namespace alignkit::train {
namespace {

// KTOTrainer._compute_loss's metrics (trl 1.13), in the order it logs them; a side's rewards and log-probs summed
// with nansum, as TRL sums them.
MetricParts metricsOf(const CompletionLogProbs& lp, const KtoStepResult& step, const KtoBatch& batch, double kl) {
  const at::Tensor chosen = batch.labels.reshape({-1}).to(lp.tokens.device()).ne(0), rejected = chosen.logical_not();
  const auto of = [](const at::Tensor& values, const at::Tensor& rows) {
    return values.to(at::kDouble).masked_select(rows);
  };
  const auto nansum = [](const at::Tensor& values) { return at::nansum(values).item<double>(); };
  const double chosenRows = chosen.sum().item<double>(), rejectedRows = rejected.sum().item<double>();
  MetricParts m;
  m.add("kl", kl, 1);
  m.add("entropy", lp.entropy, lp.tokens.sum().item<double>());
  m.add("logits/chosen", of(lp.meanLogit, chosen), of(lp.tokens, chosen).sum().item<double>());
  m.add("logits/rejected", of(lp.meanLogit, rejected), of(lp.tokens, rejected).sum().item<double>());
  m.add("rewards/chosen", nansum(of(step.rewards, chosen)), chosenRows);
  m.add("logps/chosen", nansum(of(step.logps, chosen)), chosenRows);
  m.add("rewards/rejected", nansum(of(step.rewards, rejected)), rejectedRows);
  m.add("logps/rejected", nansum(of(step.logps, rejected)), rejectedRows);
  if (lp.auxLoss.defined()) m.add("aux_loss", lp.auxLoss.item<double>(), 1);
  m.numTokens = batch.attentionMask.defined() ? batch.attentionMask.sum().item<int64_t>() : batch.inputIds.numel();
  return m;
}

}  // namespace

KtoStepResult ktoStep(const models::CausalLM& policy, const KtoBatch& batch, const at::Tensor& refLogps, double kl,
                      const KtoLossOptions& options, const CompletionLogProbsOptions& logpsOptions,
                      const StepBackward& backward) {
  validateKtoLossOptions(options);
  if (batch.inputIds.dim() != 2) throw invalidArgument("ktoStep: inputIds (B, T) expected");
  const int64_t rows = batch.inputIds.size(0);
  if (!batch.labels.defined() || batch.labels.numel() != rows || !refLogps.defined() || refLogps.numel() != rows)
    throw invalidArgument("ktoStep: labels and reference log-probs need " + std::to_string(rows) + " values each");

  at::AutoGradMode gradMode(backward.backward);
  CompletionLogProbs pol =
      completionLogProbs(policy, batch.inputIds, batch.attentionMask, batch.completionMask, logpsOptions);
  KtoLossInputs in;
  in.logps = pol.logps;
  in.refLogps = refLogps;
  in.labels = batch.labels;
  in.kl = kl;
  const KtoLoss loss = ktoLoss(in, options);
  // MoE: + router_aux_loss_coef × aux_loss, as KTOTrainer._compute_loss adds it.
  const at::Tensor total =
      pol.auxLoss.defined() ? loss.loss + logpsOptions.forward.routerAuxLossCoef * pol.auxLoss : loss.loss;
  if (backward.backward) torch::autograd::backward({total * backward.lossScale});

  KtoStepResult out;
  out.loss = total.item<double>();
  out.rewards = loss.rewards;
  out.logps = pol.logps.detach();
  out.metrics = metricsOf(pol, out, batch, kl);
  return out;
}

}  // namespace alignkit::train
