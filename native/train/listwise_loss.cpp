#include "train/listwise_loss.h"

#include <numeric>
#include <string>

#include "common/error.h"

namespace alignkit::train {

const OptionCatalogue<ListwiseLossOptions>& listwiseLossCatalogue() {
  static const OptionCatalogue<ListwiseLossOptions> catalogue = [] {
    OptionCatalogue<ListwiseLossOptions> c;
    c.options = {option("beta", &ListwiseLossOptions::beta)};
    c.validate = validateListwiseLossOptions;
    return c;
  }();
  return catalogue;
}

void validateListwiseLossOptions(const ListwiseLossOptions& o) {
  if (!(o.beta > 0))
    throw invalidArgument("'beta' must be above 0 for the listwise loss, got " + shownNumber(o.beta) +
                          " (the rewards are beta times the log-ratios to the reference: at 0 it learns nothing, "
                          "below 0 it learns the reverse ranking)");
}

ListwiseLoss listwiseLoss(const ListwiseLossInputs& in, const ListwiseLossOptions& o) {
  validateListwiseLossOptions(o);
  const int64_t rows = std::accumulate(in.groupSizes.begin(), in.groupSizes.end(), int64_t{0});
  if (in.groupSizes.empty() || in.logps.numel() != rows || in.refLogps.numel() != rows)
    throw invalidArgument("listwiseLoss: " + std::to_string(in.logps.numel()) + " log-probs for groups of " +
                          std::to_string(rows) + " rows");
  const at::Tensor rewards =
      o.beta * (in.logps.reshape({-1}) - in.refLogps.to(in.logps.device(), at::kFloat).reshape({-1}));
  // One prompt at a time (a batch holds few): the suffix logsumexp is a reversed logcumsumexp.
  std::vector<at::Tensor> perPrompt;
  int64_t start = 0;
  for (const int64_t k : in.groupSizes) {
    if (k < 2) throw invalidArgument("listwiseLoss: every prompt needs at least 2 answers, got " + std::to_string(k));
    const at::Tensor r = rewards.narrow(0, start, k);
    const at::Tensor suffixLse = at::logcumsumexp(r.flip({0}), 0).flip({0});
    perPrompt.push_back((suffixLse - r).sum());
    start += k;
  }
  const at::Tensor losses = at::stack(perPrompt);
  ListwiseLoss out;
  if (!in.weights.defined()) {
    out.loss = losses.mean();
  } else {
    if (in.weights.numel() != static_cast<int64_t>(in.groupSizes.size()))
      throw invalidArgument("listwiseLoss: " + std::to_string(in.weights.numel()) + " weights for " +
                            std::to_string(in.groupSizes.size()) + " prompts");
    const at::Tensor w = in.weights.to(losses.device(), at::kFloat).reshape({-1});
    out.loss = (w * losses).sum() / w.sum();
  }
  out.rewards = rewards.detach();
  return out;
}

}  // namespace alignkit::train
