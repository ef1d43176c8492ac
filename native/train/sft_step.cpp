#include "train/sft_step.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>

#include "common/autocast.h"
#include "common/error.h"
#include "models/moe.h"
#include "ops/logits_transform.h"

namespace alignkit::train {
namespace {

constexpr int64_t kIgnoreIndex = -100;

// The loss (summed token NLL / divisor) and the per-token log-probs and statistics of `target` (B * T, the
// shifted labels) from every position's hidden state; the autocast region (bf16) closes on return, before any
// backward. With the router aux loss enabled, *auxLoss receives a MoE model's load-balancing loss (with autograd).
ops::LogProbsLoss lossAndTokens(const models::CausalLM& model, const SftBatch& batch, const at::Tensor& target,
                                double divisor, const SftStepOptions& options, at::Tensor* auxLoss) {
  const at::Device device = model.device();
  const AutocastGuard autocast(device.type(), options.forward.bf16);
  const models::MoeConfig& moe = model.config().moe;
  std::vector<at::Tensor> routerLogits;
  const bool aux = routerAuxLossEnabled(options.forward, moe.numExperts);
  const at::Tensor hidden =
      model.hiddenStates(batch.inputIds, batch.attentionMask, batch.positionIds, options.forward.gradientCheckpointing,
                         options.forward.checkpointedLayers, aux ? &routerLogits : nullptr);
  // SFTTrainer's forward: load_balancing_loss_func over the batch's attention_mask (none when padding-free).
  if (aux) *auxLoss = models::loadBalancingLoss(routerLogits, moe.numExperts, moe.topK, batch.attentionMask);
  const at::Tensor h = hidden.reshape({-1, hidden.size(2)});  // (N, C), a view
  const bool fused = !options.reference && (device.is_cpu() || device.is_cuda());
  const bool tokenScaling = sftTokenScaling(options.loss);
  // The family's final-logit transform, on every path: Gemma's soft-cap always, Granite's logits_scaling as the
  // loss_type takes it (TRL's default chunked_nll leaves it out).
  const ops::LogitsTransform transform{sftLogitsScaling(options.loss) ? model.config().logitsScaling : 1.0,
                                       model.config().finalLogitSoftcapping};
  // dLoss/dlogp is -1/divisor on every label token whatever the logits: the lm_head's gradient is made in the
  // forward, and the rows without a label (prompt, padding) skip it.
  if (fused && options.backward && !tokenScaling) {
    const at::Tensor g = at::full({h.size(0)}, -1.0 / divisor, h.options().dtype(at::kFloat));
    return ops::fusedLinearLogProbsLoss(h, model.lmHeadWeight(), target, g, options.chunks, transform);
  }
  const ops::TokenLogProbs tok =
      fused ? ops::fusedLinearLogProbs(h, model.lmHeadWeight(), target, options.chunks, transform)
            : ops::logprobsReference(h, model.lmHeadWeight(), target, transform);
  const at::Tensor perToken = tokenScaling ? tok.logps.exp().detach() * tok.logps : tok.logps;
  return {-perToken.sum() / divisor, tok};
}

}  // namespace

int64_t labelTokens(const at::Tensor& labels) {
  return labels.narrow(1, 1, labels.size(1) - 1).ne(kIgnoreIndex).sum().item<int64_t>();
}

SftStepResult sftStep(const models::CausalLM& model, const SftBatch& batch, const SftStepOptions& options) {
  const at::Tensor& ids = batch.inputIds;
  if (ids.dim() != 2 || ids.size(1) < 2) throw invalidArgument("sftStep: inputIds (B, T) with T >= 2 expected");
  if (!batch.labels.defined() || batch.labels.sizes() != ids.sizes())
    throw invalidArgument("sftStep: labels must have the shape of inputIds");
  const int64_t T = ids.size(1);
  // As transformers' ForCausalLMLoss: the labels shifted left and padded with an ignored one, so position t
  // predicts labels[t + 1] and the last position nothing. The fused kernel ignores negative labels; -100 is the
  // only one the collator writes.
  const at::Tensor target = at::constant_pad_nd(batch.labels.narrow(1, 1, T - 1), {0, 1}, kIgnoreIndex)
                                .to(model.device(), at::kLong)
                                .reshape({-1});
  const at::Tensor keep = target.ne(kIgnoreIndex);
  const int64_t count = keep.sum().item<int64_t>();
  const int64_t items = options.numItemsInBatch > 0 ? options.numItemsInBatch : count;

  at::AutoGradMode gradMode(options.backward);
  // cross_entropy(reduction="sum") / num_items_in_batch; with no label token at all, 0 with a zero gradient.
  const double divisor = static_cast<double>(std::max<int64_t>(items, 1)) / options.lossScale;
  at::Tensor aux;
  const auto [tokenLoss, tok] =
      lossAndTokens(model, batch, target.masked_fill(keep.logical_not(), -1), divisor, options, &aux);
  // MoE: + router_aux_loss_coef × aux_loss, as the MoE forward TRL's SFTTrainer calls adds it.
  const at::Tensor loss =
      aux.defined() ? tokenLoss + options.forward.routerAuxLossCoef * options.lossScale * aux : tokenLoss;
  if (options.backward) loss.backward();

  SftStepResult out;
  out.loss = loss.item<double>() / options.lossScale;
  out.labelTokens = count;
  const double tokens = static_cast<double>(count);
  out.metrics.add("entropy", tok.entropy.masked_fill(keep.logical_not(), 0), tokens);
  out.metrics.add("mean_token_accuracy", tok.correct, tokens);
  if (aux.defined()) out.metrics.add("aux_loss", aux.item<double>(), 1);
  out.metrics.numTokens = batch.attentionMask.defined() ? batch.attentionMask.sum().item<int64_t>() : T;
  return out;
}

}  // namespace alignkit::train
