#include "train/causal_lm_loss.h"

namespace alignkit::train {

constexpr int64_t kIgnoreIndex = -100;

at::Tensor causalLmLoss(const models::CausalLM& model, const at::Tensor& inputIds, const at::Tensor& attentionMask) {
  const at::Tensor logits = model.logits(inputIds, attentionMask, {});
  at::Tensor labels = inputIds.to(model.device(), at::kLong);
  if (attentionMask.defined()) labels = labels.masked_fill(attentionMask.to(model.device()).eq(0), kIgnoreIndex);
  // Position t predicts token t + 1: shift the labels, not the logits, so the (B, T, V) logits and their
  // gradient are never copied (as transformers' ForCausalLMLoss does); the last position predicts nothing.
  const int64_t V = logits.size(-1);
  const at::Tensor shiftedLabels =
      at::constant_pad_nd(labels.narrow(1, 1, labels.size(1) - 1), {0, 1}, kIgnoreIndex).reshape({-1});
  return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, V}), shiftedLabels, /*weight=*/{},
                                at::Reduction::Mean, kIgnoreIndex);
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
