#include "train/cpo_loss.h"

#include <vector>

#include "common/error.h"

namespace alignkit::train {
namespace {

// The per-pair losses from the reward differences (chosen − rejected).
using LossFn = at::Tensor (*)(const at::Tensor& logits, const CpoLossOptions& o);

// CPO, Xu et al. 2024 (https://huggingface.co/papers/2401.08417) Eq. 3: DPO's sigmoid loss without the reference,
// with conservative label smoothing. TRL "sigmoid".
at::Tensor sigmoidLoss(const at::Tensor& logits, const CpoLossOptions& o) {
  return -at::log_sigmoid(o.beta * logits) * (1 - o.label_smoothing) -
         at::log_sigmoid(-o.beta * logits) * o.label_smoothing;
}

// SLiC's hinge loss (https://huggingface.co/papers/2305.10425) on the reference-free margin. TRL "hinge".
at::Tensor hingeLoss(const at::Tensor& logits, const CpoLossOptions& o) { return at::relu(1 - o.beta * logits); }

// IPO, Azar et al. 2023 (https://huggingface.co/papers/2310.12036) Eq. 17 on length-normalised log-probs: the
// margin is regressed to 1/(2β). TRL "ipo".
at::Tensor ipoLoss(const at::Tensor& logits, const CpoLossOptions& o) { return (logits - 1 / (2 * o.beta)).pow(2); }

// SimPO, Meng et al. 2024 (https://huggingface.co/papers/2405.14734) Eq. 6: the sigmoid loss on length-normalised
// log-probs with a target margin γ (simpo_gamma): −log σ(β·Δ − γ). TRL "simpo".
at::Tensor simpoLoss(const at::Tensor& logits, const CpoLossOptions& o) {
  return sigmoidLoss(logits - o.simpo_gamma / o.beta, o);
}

struct LossType {
  const char* name;  // TRL's loss_type
  LossFn fn;
  bool averaged;  // get_batch_logps(average_log_prob=True)
};

// The registry: TRL's CPO loss_type name → its function, in TRL's order.
const std::vector<LossType>& lossTypes() {
  static const std::vector<LossType> types = {
      {"sigmoid", sigmoidLoss, false},
      {"hinge", hingeLoss, false},
      {"ipo", ipoLoss, true},
      {"simpo", simpoLoss, true},
  };
  return types;
}

const LossType& lossType(const std::string& name) {
  for (const LossType& t : lossTypes())
    if (name == t.name) return t;
  throw invalidArgument("cpo: unknown loss_type '" + name + "'");  // validateCpoLossOptions names the choices first
}

// AlphaPO (https://huggingface.co/papers/2501.03884): r = (1 − p^(−alpha)) / alpha of p = exp(logps); log p at 0.
at::Tensor rewardOf(const at::Tensor& logps, const CpoLossOptions& o) {
  if (o.alpha == 0.0) return logps;
  return (1 - at::exp(logps).pow(-o.alpha)) / o.alpha;
}

}  // namespace

const OptionCatalogue<CpoLossOptions>& cpoLossCatalogue() {
  static const OptionCatalogue<CpoLossOptions> catalogue = [] {
    OptionCatalogue<CpoLossOptions> c;
    for (const LossType& t : lossTypes()) c.lossTypes.push_back(t.name);
    c.options = {
        option("beta", &CpoLossOptions::beta),
        option("label_smoothing", &CpoLossOptions::label_smoothing),
        option("loss_type", &CpoLossOptions::loss_type, c.lossTypes),
        option("cpo_alpha", &CpoLossOptions::cpo_alpha),
        option("simpo_gamma", &CpoLossOptions::simpo_gamma),
        option("alpha", &CpoLossOptions::alpha),
    };
    c.validate = validateCpoLossOptions;
    return c;
  }();
  return catalogue;
}

void validateCpoLossOptions(const CpoLossOptions& o) {
  // TRL refuses kto_pair by name (it moved to KTOTrainer); the catalogue's choices cover it.
  checkChoices(cpoLossCatalogue(), o);
  // ipo divides by beta and simpo by it in γ/β: at 0 both are infinite.
  if ((o.loss_type == "ipo" || o.loss_type == "simpo") && o.beta == 0)
    throw invalidArgument("'beta' must not be 0 for CPO's loss_type " + o.loss_type +
                          " (its loss divides by beta: 1/(2·beta) for ipo, simpo_gamma/beta for simpo)");
}

bool cpoAveragesLogps(const CpoLossOptions& o) { return lossType(o.loss_type).averaged; }

// get_batch_loss_metrics: loss = mean(losses) + cpo_alpha · nll; rewards β · r for logging.
CpoLoss cpoLoss(const at::Tensor& chosenLogps, const at::Tensor& rejectedLogps, const at::Tensor& nll,
                const CpoLossOptions& o) {
  validateCpoLossOptions(o);
  const at::Tensor chosen = rewardOf(chosenLogps, o), rejected = rewardOf(rejectedLogps, o);
  CpoLoss out;
  out.loss = lossType(o.loss_type).fn(chosen - rejected, o).mean() + o.cpo_alpha * nll;
  out.chosenRewards = (o.beta * chosen).detach();
  out.rejectedRewards = (o.beta * rejected).detach();
  return out;
}

}  // namespace alignkit::train
