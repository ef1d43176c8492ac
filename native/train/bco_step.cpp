#include "train/bco_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <string>

#include "common/autocast.h"
#include "common/error.h"
#include "ops/logits_transform.h"

namespace alignkit::train {
namespace {

// (B) each: the completion log-probs (with autograd) and, detached in double, each row's sum of its (T, V) logits.
struct PolicyLogProbs {
  at::Tensor logps, logitSums;
};

// completionLogProbs (train/completion_logprobs.h) over every position rather than the T − 1 that predict a token:
// the last one predicts nothing (label −1) but TRL's logits/ metric sums its logits too. The fused kernel gives each
// position's vocabulary-mean logit whatever its label, so the metric costs no extra lm_head pass.
PolicyLogProbs policyLogProbs(const models::CausalLM& model, const BcoBatch& b, const CompletionLogProbsOptions& o) {
  const at::Device device = model.device();
  const int64_t B = b.inputIds.size(0), T = b.inputIds.size(1);
  const AutocastGuard autocast(device.type(), o.forward.bf16);
  const at::Tensor hidden = model.hiddenStates(b.inputIds, b.attentionMask, {}, o.forward.gradientCheckpointing,
                                               o.forward.checkpointedLayers);  // (B, T, C)
  const at::Tensor none = at::full({B, 1}, -1, at::TensorOptions().dtype(at::kLong).device(device));
  const at::Tensor target = at::cat({b.inputIds.narrow(1, 1, T - 1).to(device, at::kLong), none}, 1);
  const at::Tensor isCompletion =
      at::cat({b.completionMask.narrow(1, 1, T - 1).to(device).ne(0), none.ne(-1)}, 1);  // (B, T)
  const at::Tensor labels = target.masked_fill(isCompletion.logical_not(), -1).reshape({-1});
  const at::Tensor h = hidden.reshape({B * T, hidden.size(2)});
  const bool fused = !o.reference && (device.is_cpu() || device.is_cuda());
  const ops::LogitsTransform transform{model.config().logitsScaling, model.config().finalLogitSoftcapping};
  const ops::TokenLogProbs tok = fused ? ops::fusedLinearLogProbs(h, model.lmHeadWeight(), labels, o.chunks, transform)
                                       : ops::logprobsReference(h, model.lmHeadWeight(), labels, transform);
  const double vocab = static_cast<double>(model.lmHeadWeight().size(0));
  return {tok.logps.view({B, T}).sum(1), (tok.meanLogit.detach().to(at::kDouble).view({B, T}) * vocab).sum(1)};
}

// get_batch_loss_metrics' metrics: sums over each side's rows with nansum, as TRL gathers them.
MetricParts metricsOf(const BcoBatch& batch, const BcoStepResult& step, const at::Tensor& logitSums) {
  const at::Tensor chosen = batch.labels.reshape({-1}).to(step.logps.device()).ne(0), rejected = chosen.logical_not();
  const auto nansum = [](const at::Tensor& values, const at::Tensor& rows) {
    return at::nansum(values.to(at::kDouble).masked_select(rows.to(values.device()))).item<double>();
  };
  MetricParts m;
  m.add("delta", step.delta, 1);
  for (const auto& [side, rows] : {std::pair{"chosen", chosen}, std::pair{"rejected", rejected}}) {
    const double count = rows.sum().item<double>();
    m.add(std::string("rewards/") + side, nansum(step.rewards, rows), count);
    m.add(std::string("logps/") + side, nansum(step.logps, rows), count);
    m.add(std::string("logits/") + side, nansum(logitSums, rows), count);
  }
  m.numTokens = batch.attentionMask.defined() ? batch.attentionMask.sum().item<int64_t>() : batch.inputIds.numel();
  return m;
}

}  // namespace

BcoStepResult bcoStep(const models::CausalLM& policy, const BcoBatch& batch, const at::Tensor& refLogps,
                      RunningMoments running, bool update, const AllReduceSum& allReduceSum,
                      const BcoLossOptions& options, const CompletionLogProbsOptions& logpsOptions,
                      const StepBackward& backward) {
  validateBcoLossOptions(options);
  if (batch.inputIds.dim() != 2 || batch.inputIds.size(1) < 2)
    throw invalidArgument("bcoStep: inputIds (B, T) with T >= 2 expected");
  const int64_t rows = batch.inputIds.size(0);
  if (!batch.labels.defined() || batch.labels.numel() != rows || !refLogps.defined() || refLogps.numel() != rows)
    throw invalidArgument("bcoStep: labels and reference log-probs need " + std::to_string(rows) + " values each");

  at::AutoGradMode gradMode(backward.backward);
  const PolicyLogProbs pol = policyLogProbs(policy, batch, logpsOptions);
  // bco_loss: the running moments take this batch's rewards before the loss reads their mean.
  if (update) updateRunningMoments(running, bcoRewards(pol.logps, refLogps, options), allReduceSum);
  BcoLossInputs in;
  in.logps = pol.logps;
  in.refLogps = refLogps;
  in.labels = batch.labels;
  in.delta = running.mean;
  const BcoLoss loss = bcoLoss(in, options);
  if (backward.backward) torch::autograd::backward({loss.loss * backward.lossScale});

  BcoStepResult out;
  out.loss = loss.loss.item<double>();
  out.rewards = loss.rewards;
  out.logps = pol.logps.detach();
  out.running = running;
  out.delta = static_cast<double>(static_cast<float>(running.mean));
  out.metrics = metricsOf(batch, out, pol.logitSums);
  return out;
}

}  // namespace alignkit::train
