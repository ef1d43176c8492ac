#include "train/ref_model_sync.h"

#include <ATen/core/grad_mode.h>

#include <string>

#include "common/error.h"

namespace alignkit::train {
namespace {

std::string describe(const std::string& name, const at::Tensor& t) {
  return name + " " + at::toString(t.scalar_type()) + c10::str(t.sizes()) + " on " + t.device().str();
}

}  // namespace

void mixParameters(const models::CausalLM& target, const models::CausalLM& source, double alpha) {
  if (!(alpha >= 0.0 && alpha <= 1.0))
    throw invalidArgument("mixParameters: alpha must be in [0, 1], got " + std::to_string(alpha));
  if (&target == &source) return;  // unchanged; the in-place update below would read its own output
  const models::NamedTensors& to = target.parameters();
  const models::NamedTensors& from = source.parameters();
  if (to.size() != from.size())
    throw invalidArgument("mixParameters: the target has " + std::to_string(to.size()) + " parameters, the source " +
                          std::to_string(from.size()));
  for (size_t i = 0; i < to.size(); ++i) {
    const std::string t = describe(to[i].first, to[i].second), s = describe(from[i].first, from[i].second);
    if (t != s)
      throw invalidArgument("mixParameters: parameter " + std::to_string(i) + " is " + t + " in the target, " + s +
                            " in the source");
  }
  at::NoGradGuard noGrad;
  // TRL's two in-place ops, target.data.mul_(1 - α).add_(source.data, alpha=α), so the rounding agrees.
  for (size_t i = 0; i < to.size(); ++i) to[i].second.mul_(1.0 - alpha).add_(from[i].second, alpha);
}

}  // namespace alignkit::train
