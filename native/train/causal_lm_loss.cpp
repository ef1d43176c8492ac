#include "train/causal_lm_loss.h"

namespace alignkit::train {

constexpr int64_t kIgnoreIndex = -100;

at::Tensor causalLmLoss(const models::CausalLM& model, const at::Tensor& inputIds, const at::Tensor& attentionMask) {
  const at::Tensor logits = model.logits(inputIds, attentionMask, {});
  at::Tensor labels = inputIds.to(model.device(), at::kLong);
  if (attentionMask.defined()) labels = labels.masked_fill(attentionMask.to(model.device()).eq(0), kIgnoreIndex);
  // Position t predicts token t + 1; the last position predicts nothing.
  const int64_t T = labels.size(1), V = logits.size(-1);
  const at::Tensor shiftedLogits = logits.narrow(1, 0, T - 1).to(at::kFloat).reshape({-1, V});
  const at::Tensor shiftedLabels = labels.narrow(1, 1, T - 1).reshape({-1});
  return at::cross_entropy_loss(shiftedLogits, shiftedLabels, /*weight=*/{}, at::Reduction::Mean, kIgnoreIndex);
}

double causalLmLossBackward(const models::CausalLM& model, const at::Tensor& inputIds,
                            const at::Tensor& attentionMask) {
  const at::Tensor loss = causalLmLoss(model, inputIds, attentionMask);
  loss.backward();
  return loss.item<double>();
}

void zeroGradients(const models::CausalLM& model) {
  for (const auto& [name, p] : model.parameters()) p.mutable_grad() = at::Tensor();
}

}  // namespace alignkit::train
