#include "train/kto_step.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <string>

#include "common/error.h"

namespace alignkit::train {

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
  if (backward.backward) torch::autograd::backward({loss.loss * backward.lossScale});

  KtoStepResult out;
  out.loss = loss.loss.item<double>();
  out.rewards = loss.rewards;
  pol.logps = pol.logps.detach();
  out.lp = pol;
  return out;
}

}  // namespace alignkit::train
