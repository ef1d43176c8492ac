#include "train/kto_loss.h"

#include "common/error.h"

namespace alignkit::train {

void validateKtoLossOptions(const KtoLossOptions& options) {
  if (options.lossType != "kto" && options.lossType != "apo_zero_unpaired")
    throw invalidArgument("loss_type: expected 'kto' or 'apo_zero_unpaired', got '" + options.lossType + "'");
}

// KTO, Ethayarajh et al. 2024 (https://huggingface.co/papers/2402.01306) Eq. 7: a desirable completion's reward
// r = β·log(π/π_ref) is pushed above the reference point β·KL, an undesirable one's below it, through a sigmoid
// value function: 1 − σ(r − β·KL), 1 − σ(β·KL − r). APO-zero unpaired, D'Oosterlinck et al. 2024
// (https://huggingface.co/papers/2408.06266) Eq. 7: no reference point, 1 − σ(r) and σ(r). TRL weights the
// desirable rows' losses by desirable_weight, the others' by undesirable_weight, and takes losses.nanmean().
KtoLoss ktoLoss(const KtoLossInputs& in, const KtoLossOptions& o) {
  validateKtoLossOptions(o);
  const at::Tensor labels = in.labels.to(in.logps.device(), at::kBool).reshape({-1});
  const at::Tensor chosenIdx = at::nonzero(labels).view({-1}), rejectedIdx = at::nonzero(~labels).view({-1});
  const at::Tensor refLogps = in.refLogps.to(in.logps.device(), at::kFloat).reshape({-1});
  const at::Tensor chosen = in.logps.index_select(0, chosenIdx) - refLogps.index_select(0, chosenIdx);
  const at::Tensor rejected = in.logps.index_select(0, rejectedIdx) - refLogps.index_select(0, rejectedIdx);
  const bool kto = o.lossType == "kto";
  const at::Tensor kl = at::scalar_tensor(kto ? in.kl : 0.0, in.logps.options().requires_grad(false));
  const at::Tensor chosenLosses = 1 - at::sigmoid(o.beta * (chosen - kl));
  const at::Tensor rejectedLosses = kto ? 1 - at::sigmoid(o.beta * (kl - rejected)) : at::sigmoid(o.beta * rejected);
  KtoLoss out;
  out.loss = at::cat({o.desirableWeight * chosenLosses, o.undesirableWeight * rejectedLosses}).nanmean();
  out.rewards = (o.beta * (in.logps - refLogps)).detach();
  return out;
}

}  // namespace alignkit::train
