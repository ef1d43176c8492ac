#include "train/kto_loss.h"

#include <utility>
#include <vector>

#include "common/error.h"

namespace alignkit::train {
namespace {

// The per-row losses of the desirable rows and of the undesirable ones, from their log-ratios to the reference
// (policy − reference) and the batch's KL reference point.
using LossFn = std::pair<at::Tensor, at::Tensor> (*)(const at::Tensor& chosen, const at::Tensor& rejected,
                                                     const at::Tensor& kl, const KtoLossOptions& o);

// KTO, Ethayarajh et al. 2024 (https://huggingface.co/papers/2402.01306) Eq. 7: a desirable completion's reward
// r = β·log(π/π_ref) is pushed above the reference point β·KL, an undesirable one's below it, through a sigmoid
// value function: 1 − σ(r − β·KL), 1 − σ(β·KL − r). TRL "kto".
std::pair<at::Tensor, at::Tensor> ktoLossRows(const at::Tensor& chosen, const at::Tensor& rejected,
                                              const at::Tensor& kl, const KtoLossOptions& o) {
  return {1 - at::sigmoid(o.beta * (chosen - kl)), 1 - at::sigmoid(o.beta * (kl - rejected))};
}

// APO-zero unpaired, D'Oosterlinck et al. 2024 (https://huggingface.co/papers/2408.06266) Eq. 7: no reference point,
// 1 − σ(r) and σ(r). TRL "apo_zero_unpaired".
std::pair<at::Tensor, at::Tensor> apoZeroUnpairedLossRows(const at::Tensor& chosen, const at::Tensor& rejected,
                                                          const at::Tensor&, const KtoLossOptions& o) {
  return {1 - at::sigmoid(o.beta * chosen), at::sigmoid(o.beta * rejected)};
}

struct LossType {
  const char* name;  // TRL's loss_type
  LossFn fn;
};

// The registry: TRL's KTO loss_type name → its function, in TRL's order.
const std::vector<LossType>& lossTypes() {
  static const std::vector<LossType> types = {
      {"kto", ktoLossRows},
      {"apo_zero_unpaired", apoZeroUnpairedLossRows},
  };
  return types;
}

const LossType& lossType(const std::string& name) {
  for (const LossType& t : lossTypes())
    if (name == t.name) return t;
  throw invalidArgument("kto: unknown loss_type '" + name + "'");  // validateKtoLossOptions names the choices first
}

}  // namespace

const OptionCatalogue<KtoLossOptions>& ktoLossCatalogue() {
  static const OptionCatalogue<KtoLossOptions> catalogue = [] {
    OptionCatalogue<KtoLossOptions> c;
    for (const LossType& t : lossTypes()) c.lossTypes.push_back(t.name);
    c.options = {
        option("beta", &KtoLossOptions::beta),
        option("loss_type", &KtoLossOptions::loss_type, c.lossTypes),
        option("desirable_weight", &KtoLossOptions::desirable_weight),
        option("undesirable_weight", &KtoLossOptions::undesirable_weight),
    };
    c.validate = validateKtoLossOptions;
    return c;
  }();
  return catalogue;
}

void validateKtoLossOptions(const KtoLossOptions& o) {
  checkChoices(ktoLossCatalogue(), o);
  // Every KTO loss scales the policy/reference log-ratios by beta: at 0 the loss is flat, below 0 it pushes the
  // desirable completions down.
  if (o.beta <= 0)
    throw invalidArgument("'beta' must be above 0 for KTO's loss_type " + o.loss_type + ", got " + shownNumber(o.beta) +
                          " (the loss scales the log-ratios to the reference by beta: at 0 it learns nothing, below "
                          "0 it learns the opposite preference)");
}

// TRL weights the desirable rows' losses by desirable_weight, the others' by undesirable_weight, and takes
// losses.nanmean() (KTOTrainer._compute_loss).
KtoLoss ktoLoss(const KtoLossInputs& in, const KtoLossOptions& o) {
  validateKtoLossOptions(o);
  const at::Tensor labels = in.labels.to(in.logps.device(), at::kBool).reshape({-1});
  const at::Tensor chosenIdx = at::nonzero(labels).view({-1}), rejectedIdx = at::nonzero(~labels).view({-1});
  const at::Tensor refLogps = in.refLogps.to(in.logps.device(), at::kFloat).reshape({-1});
  const at::Tensor chosen = in.logps.index_select(0, chosenIdx) - refLogps.index_select(0, chosenIdx);
  const at::Tensor rejected = in.logps.index_select(0, rejectedIdx) - refLogps.index_select(0, rejectedIdx);
  const at::Tensor kl = at::scalar_tensor(in.kl, in.logps.options().requires_grad(false));
  const auto [chosenLosses, rejectedLosses] = lossType(o.loss_type).fn(chosen, rejected, kl, o);
  KtoLoss out;
  out.loss = at::cat({o.desirable_weight * chosenLosses, o.undesirable_weight * rejectedLosses}).nanmean();
  out.rewards = (o.beta * (in.logps - refLogps)).detach();
  return out;
}

}  // namespace alignkit::train
