#include "train/causal_lm_loss.h"

#include <vector>

#include "models/moe.h"

namespace alignkit::train {

constexpr int64_t kIgnoreIndex = -100;

at::Tensor causalLmLoss(const models::CausalLM& model, const at::Tensor& inputIds, const at::Tensor& attentionMask) {
  // A MoE config.json with output_router_logits: transformers' forward adds router_aux_loss_coef × aux_loss.
  const models::MoeConfig& moe = model.config().moe;
  const bool aux = moe.numExperts > 0 && moe.outputRouterLogits;
  std::vector<at::Tensor> routerLogits;
  const at::Tensor logits = model.logits(inputIds, attentionMask, {}, aux ? &routerLogits : nullptr);
  at::Tensor labels = inputIds.to(model.device(), at::kLong);
  if (attentionMask.defined()) labels = labels.masked_fill(attentionMask.to(model.device()).eq(0), kIgnoreIndex);
  // Position t predicts token t + 1: shift the labels, not the logits, so the (B, T, V) logits and their
  // gradient are never copied (as transformers' ForCausalLMLoss does); the last position predicts nothing.
  const int64_t V = logits.size(-1);
  const at::Tensor shiftedLabels =
      at::constant_pad_nd(labels.narrow(1, 1, labels.size(1) - 1), {0, 1}, kIgnoreIndex).reshape({-1});
  const at::Tensor loss = at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, V}), shiftedLabels,
                                                 /*weight=*/{}, at::Reduction::Mean, kIgnoreIndex);
  if (!aux) return loss;
  return loss +
         moe.routerAuxLossCoef * models::loadBalancingLoss(routerLogits, moe.numExperts, moe.topK, attentionMask);
}

double causalLmLossBackward(const models::CausalLM& model, const at::Tensor& inputIds,
                            const at::Tensor& attentionMask) {
  const at::Tensor loss = causalLmLoss(model, inputIds, attentionMask);
  loss.backward();
  return loss.item<double>();
}

void zeroGradients(const models::CausalLM& model) {
  for (const models::NamedTensors* group : {&model.parameters(), &model.adapterParameters()})
    for (const auto& [name, p] : *group) p.mutable_grad() = at::Tensor();
}

}  // namespace alignkit::train
