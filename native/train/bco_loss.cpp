#include "train/bco_loss.h"

#include <cmath>

#include "common/error.h"

namespace alignkit::train {

const OptionCatalogue<BcoLossOptions>& bcoLossCatalogue() {
  static const OptionCatalogue<BcoLossOptions> catalogue = [] {
    OptionCatalogue<BcoLossOptions> c;
    c.options = {option("beta", &BcoLossOptions::beta)};
    c.validate = validateBcoLossOptions;
    return c;
  }();
  return catalogue;
}

void validateBcoLossOptions(const BcoLossOptions& o) {
  // The classifier's logit is β·log-ratio: at 0 every reward is 0 and nothing is learnt, below 0 the opposite.
  if (!(o.beta > 0))
    throw invalidArgument("'beta' must be above 0 for BCO, got " + shownNumber(o.beta) +
                          " (the rewards are beta times the log-ratios to the reference: at 0 it learns nothing, "
                          "below 0 it learns the opposite preference)");
}

namespace {

struct BatchMoments {
  float mean, var;
  double count;
};

// torch.var_mean(xs, unbiased=False) on one process; get_global_statistics (sum and count, then the squared
// deviations from the global mean, each summed over the ranks) with several.
BatchMoments batchMoments(const at::Tensor& xs, const AllReduceSum& allReduceSum) {
  const at::Tensor x = xs.detach().to(at::kFloat).reshape({-1});
  if (!allReduceSum) {
    const auto [var, mean] = at::var_mean(x, at::IntArrayRef{}, /*correction=*/0, /*keepdim=*/false);
    return {mean.item<float>(), var.item<float>(), static_cast<double>(x.numel())};
  }
  at::Tensor sumAndCount = at::stack({x.sum(), at::scalar_tensor(static_cast<double>(x.numel()), x.options())});
  allReduceSum(sumAndCount);
  const at::Tensor mean = sumAndCount[0] / sumAndCount[1];
  at::Tensor sumVar = (x - mean).pow(2).sum();
  allReduceSum(sumVar);
  return {mean.item<float>(), (sumVar / sumAndCount[1]).item<float>(), sumAndCount[1].item<double>()};
}

}  // namespace

// RunningMoments.update: xs_mean and xs_var are float32 tensors, mean/var/count Python floats; a tensor op with a
// Python float rounds the float to float32, and .item() widens back.
void updateRunningMoments(RunningMoments& r, const at::Tensor& xs, const AllReduceSum& allReduceSum) {
  const BatchMoments b = batchMoments(xs, allReduceSum);
  const float delta = b.mean - static_cast<float>(r.mean);
  const double totCount = r.count + b.count;
  const float newSum = b.var * static_cast<float>(b.count);
  const float oldSum = static_cast<float>(r.var * r.count) + delta * delta * static_cast<float>(r.count) *
                                                                 static_cast<float>(b.count) /
                                                                 static_cast<float>(totCount);
  const float totSum = oldSum + newSum;
  r.mean += static_cast<double>(delta * static_cast<float>(b.count) / static_cast<float>(totCount));
  const float newVar = totSum / static_cast<float>(totCount);
  r.std = static_cast<double>(std::sqrt(newVar * static_cast<float>(totCount) / static_cast<float>(totCount - 1)));
  r.var = static_cast<double>(newVar);
  r.count = totCount;
}

at::Tensor bcoRewards(const at::Tensor& logps, const at::Tensor& refLogps, const BcoLossOptions& o) {
  return (o.beta * (logps.detach() - refLogps.to(logps.device(), at::kFloat).reshape({-1}))).detach();
}

BcoLoss bcoLoss(const BcoLossInputs& in, const BcoLossOptions& o) {
  validateBcoLossOptions(o);
  const at::Tensor labels = in.labels.to(in.logps.device(), at::kBool).reshape({-1});
  const at::Tensor chosenIdx = at::nonzero(labels).view({-1}), rejectedIdx = at::nonzero(~labels).view({-1});
  const at::Tensor rewards = o.beta * (in.logps - in.refLogps.to(in.logps.device(), at::kFloat).reshape({-1}));
  // torch.as_tensor(running.mean): a float32 scalar.
  const at::Tensor delta = at::scalar_tensor(static_cast<float>(in.delta), rewards.options().requires_grad(false));
  const at::Tensor chosenLosses = -at::log_sigmoid(rewards.index_select(0, chosenIdx) - delta);
  const at::Tensor rejectedLosses = -at::log_sigmoid(-(rewards.index_select(0, rejectedIdx) - delta));
  BcoLoss out;
  out.loss = at::cat({chosenLosses, rejectedLosses}).nanmean();
  out.rewards = rewards.detach();
  return out;
}

}  // namespace alignkit::train
