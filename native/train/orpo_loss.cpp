#include "train/orpo_loss.h"

#include "common/error.h"

namespace alignkit::train {
namespace {

// TRL's log1mexp: log(1 − exp(x)) for x < 0, branching at −ln 2 to avoid cancellation.
at::Tensor log1mexp(const at::Tensor& x) {
  return at::where(x < -0.6931471805599453, at::log1p(-at::exp(x)), at::log(-at::expm1(x)));
}

}  // namespace

const OptionCatalogue<OrpoLossOptions>& orpoLossCatalogue() {
  static const OptionCatalogue<OrpoLossOptions> catalogue = [] {
    OptionCatalogue<OrpoLossOptions> c;
    c.options = {option("beta", &OrpoLossOptions::beta)};
    c.validate = validateOrpoLossOptions;
    return c;
  }();
  return catalogue;
}

// TRL takes any beta: 0 is plain SFT on the chosen completions, a negative one rewards the rejected side. Both
// train, so neither is refused.
void validateOrpoLossOptions(const OrpoLossOptions&) {}

OrpoLoss orpoLoss(const at::Tensor& chosenLogps, const at::Tensor& rejectedLogps, const at::Tensor& nll,
                  const OrpoLossOptions& o) {
  const at::Tensor chosen = chosenLogps.to(at::kFloat), rejected = rejectedLogps.to(at::kFloat);
  const at::Tensor logOdds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected));
  const at::Tensor ratio = at::log_sigmoid(logOdds);
  OrpoLoss out;
  out.loss = nll - (o.beta * ratio).mean();
  out.chosenRewards = (o.beta * chosen).detach();
  out.rejectedRewards = (o.beta * rejected).detach();
  out.logOddsRatio = ratio.detach().mean().item<double>();
  out.logOddsChosen = logOdds.detach().mean().item<double>();
  return out;
}

}  // namespace alignkit::train
