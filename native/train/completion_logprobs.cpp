#include "train/completion_logprobs.h"

#include <string>

#include "common/autocast.h"
#include "common/error.h"
#include "models/moe.h"
#include "ops/logits_transform.h"

namespace alignkit::train {

CompletionLogProbs completionLogProbs(const models::CausalLM& model, const at::Tensor& inputIds,
                                      const at::Tensor& attentionMask, const at::Tensor& completionMask,
                                      const CompletionLogProbsOptions& options) {
  if (inputIds.dim() != 2 || inputIds.size(1) < 2)
    throw invalidArgument("completionLogProbs: inputIds (B, T) with T >= 2 expected");
  if (!completionMask.defined() || completionMask.sizes() != inputIds.sizes())
    throw invalidArgument("completionLogProbs: completionMask must have the shape of inputIds");
  const at::Device device = model.device();
  const int64_t B = inputIds.size(0), T = inputIds.size(1);
  const AutocastGuard autocast(device.type(), options.forward.bf16);
  const models::MoeConfig& moe = model.config().moe;
  std::vector<at::Tensor> routerLogits;
  const bool aux = routerAuxLossEnabled(options.forward, moe.numExperts);
  const at::Tensor hidden = model.hiddenStates(inputIds, attentionMask, {}, options.forward.gradientCheckpointing,
                                               options.forward.checkpointedLayers,
                                               aux ? &routerLogits : nullptr);  // (B, T, C)
  // Position t predicts token t + 1: hidden[:, :-1] against input_ids[:, 1:], kept where the target is a
  // completion token, -1 (ignored) elsewhere.
  const at::Tensor target = inputIds.narrow(1, 1, T - 1).to(device, at::kLong);
  const at::Tensor isCompletion = completionMask.narrow(1, 1, T - 1).to(device).ne(0);  // (B, T-1)
  const at::Tensor labels = target.masked_fill(isCompletion.logical_not(), -1).reshape({-1});
  const at::Tensor h = hidden.narrow(1, 0, T - 1).reshape({B * (T - 1), hidden.size(2)});  // (N, C)
  // Both paths follow the autocast state like ATen ops: lm_head as an autocast linear, the log-softmax in float32.
  // The family's final-logit transform (Granite's logits_scaling, Gemma's soft-cap) applies before both.
  const bool fused = !options.reference && (device.is_cpu() || device.is_cuda());
  const ops::LogitsTransform transform{model.config().logitsScaling, model.config().finalLogitSoftcapping};
  const ops::TokenLogProbs tok =
      fused ? ops::fusedLinearLogProbs(h, model.lmHeadWeight(), labels, options.chunks, transform)
            : ops::logprobsReference(h, model.lmHeadWeight(), labels, transform);
  const at::Tensor keep = isCompletion.to(at::kFloat);
  auto perSequence = [&](const at::Tensor& t) { return (t.view({B, T - 1}) * keep).sum(1); };
  CompletionLogProbs out;
  out.logps = tok.logps.view({B, T - 1}).sum(1);  // ignored positions are exactly 0
  out.tokens = isCompletion.sum(1);
  out.meanLogit = perSequence(tok.meanLogit);
  out.entropy = perSequence(tok.entropy);
  out.correct = tok.correct.view({B, T - 1}).sum(1);
  out.logSumSquaredProbs = perSequence(tok.logSumSquaredProbs);
  if (aux) out.auxLoss = models::loadBalancingLoss(routerLogits, moe.numExperts, moe.topK, attentionMask);
  if (options.pairTail) {
    // As DPOTrainer._compute_loss with ld_alpha: comp_pos = shift_mask.cumsum(1); tail where comp_pos > shared_len.
    if (B % 2 != 0)
      throw invalidArgument("completionLogProbs: pairTail needs an even batch of [chosen, rejected] rows");
    const at::Tensor lens = out.tokens.chunk(2, 0)[0].minimum(out.tokens.chunk(2, 0)[1]);
    const at::Tensor shared = at::cat({lens, lens}, 0).unsqueeze(1);  // (B, 1)
    const at::Tensor tail = isCompletion.cumsum(1).gt(shared).to(at::kFloat);
    out.tailLogps = (tok.logps.view({B, T - 1}) * tail).sum(1);
  }
  return out;
}

CompletionLogProbs completionLogProbsBackward(const models::CausalLM& model, const at::Tensor& inputIds,
                                              const at::Tensor& attentionMask, const at::Tensor& completionMask,
                                              const at::Tensor& gradOutput, const CompletionLogProbsOptions& options) {
  CompletionLogProbs out = completionLogProbs(model, inputIds, attentionMask, completionMask, options);
  if (gradOutput.sizes() != out.logps.sizes())
    throw invalidArgument("completionLogProbs: gradOutput must hold one value per sequence (" +
                          std::to_string(out.logps.size(0)) + ")");
  out.logps.backward(gradOutput.to(out.logps.device(), at::kFloat));
  out.logps = out.logps.detach();
  return out;
}

}  // namespace alignkit::train
