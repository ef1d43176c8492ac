#include "train/adamw.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <tuple>

#include <ATen/core/grad_mode.h>

#include "common/error.h"

namespace alignkit::train {

bool appliesWeightDecay(const std::string& name) {
  // transformers 5.18 Trainer.get_decay_parameter_names (forbidden_name_patterns), searched per module level
  // on lowercased names; a search on the full name finds the same matches.
  static const std::regex noDecay(R"(bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.))");
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return !std::regex_search(lower, noDecay);
}

AdamW::AdamW(const models::NamedTensors& parameters, AdamWOptions options, const std::vector<bool>& owned)
    : options_(options) {
  if (!owned.empty() && owned.size() != parameters.size())
    throw invalidArgument("AdamW: " + std::to_string(owned.size()) + " ownership flags for " +
                          std::to_string(parameters.size()) + " parameters");
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto& [name, p] = parameters[i];
    Slot s{name, p, {}, {}, {}, appliesWeightDecay(name), owned.empty() || owned[i]};
    if (s.owned) {
      s.expAvg = at::zeros_like(p, at::MemoryFormat::Preserve);
      s.expAvgSq = at::zeros_like(p, at::MemoryFormat::Preserve);
      s.step = at::zeros({}, at::TensorOptions(at::kFloat).device(options_.fused ? p.device() : at::kCPU));
    }
    if (s.decay) decayNames_.push_back(name);
    slots_.push_back(std::move(s));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard noGrad;
  if (options_.fused)
    fusedStep(lr);
  else
    singleTensorStep(lr);
}

void AdamW::fusedStep(double lr) {
  // One kernel call per weight-decay group, device and dtype (the kernel wants them alike); each element's update
  // depends only on its own tensors, so how parameters are grouped changes no value.
  struct Group {
    std::vector<at::Tensor> params, grads, expAvgs, expAvgSqs, steps;
  };
  std::map<std::tuple<bool, std::string, at::ScalarType>, Group> groups;
  for (const Slot& s : slots_) {
    const at::Tensor& grad = s.param.grad();
    if (!s.owned || !grad.defined()) continue;
    Group& g = groups[{s.decay, s.param.device().str(), s.param.scalar_type()}];
    g.params.push_back(s.param);
    g.grads.push_back(grad);
    g.expAvgs.push_back(s.expAvg);
    g.expAvgSqs.push_back(s.expAvgSq);
    g.steps.push_back(s.step);
  }
  for (auto& [key, g] : groups) {
    at::_foreach_add_(g.steps, 1);
    at::_fused_adamw_(g.params, g.grads, g.expAvgs, g.expAvgSqs, {}, g.steps, lr, options_.adamBeta1,
                      options_.adamBeta2, std::get<0>(key) ? options_.weightDecay : 0.0, options_.adamEpsilon,
                      /*amsgrad=*/false, /*maximize=*/false);
  }
}

void AdamW::singleTensorStep(double lr) {
  const double beta1 = options_.adamBeta1, beta2 = options_.adamBeta2, eps = options_.adamEpsilon;
  for (Slot& s : slots_) {
    const at::Tensor& grad = s.param.grad();
    if (!s.owned || !grad.defined()) continue;
    // torch counts in a float32 tensor and reads it back as a Python float.
    const double step = s.step.add_(1).item<double>();
    const double weightDecay = s.decay ? options_.weightDecay : 0.0;
    if (weightDecay != 0) s.param.mul_(1 - lr * weightDecay);
    s.expAvg.lerp_(grad, 1 - beta1);
    s.expAvgSq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    const double biasCorrection1 = 1 - std::pow(beta1, step);
    const double biasCorrection2 = 1 - std::pow(beta2, step);
    const double stepSize = lr / biasCorrection1;
    const double biasCorrection2Sqrt = std::pow(biasCorrection2, 0.5);
    update(s, stepSize, biasCorrection2Sqrt, eps);
  }
}

void AdamW::update(Slot& s, double stepSize, double biasCorrection2Sqrt, double eps) {
  // param -= stepSize * m / (sqrt(v) / bc2 + eps); the denominator is the step's one temporary, made a block of
  // kUpdateBlock elements at a time (the same values): a block the size of the embedding would be the step's only
  // allocation of its size, which the caching allocator would have to find room for beside the idle activations.
  const auto apply = [&](at::Tensor param, const at::Tensor& avg, const at::Tensor& avgSq) {
    param.addcdiv_(avg, avgSq.sqrt().div_(biasCorrection2Sqrt).add_(eps), -stepSize);
  };
  if (!s.param.is_contiguous() || !s.expAvg.is_contiguous() || !s.expAvgSq.is_contiguous())
    return apply(s.param, s.expAvg, s.expAvgSq);
  const at::Tensor param = s.param.view(-1), avg = s.expAvg.view(-1), avgSq = s.expAvgSq.view(-1);
  for (int64_t i = 0; i < param.numel(); i += kUpdateBlock) {
    const int64_t len = std::min(kUpdateBlock, param.numel() - i);
    apply(param.narrow(0, i, len), avg.narrow(0, i, len), avgSq.narrow(0, i, len));
  }
}

models::NamedTensors AdamW::state() const {
  models::NamedTensors out;
  for (const Slot& s : slots_) {
    if (!s.owned) continue;
    out.emplace_back(s.name + ".exp_avg", s.expAvg);
    out.emplace_back(s.name + ".exp_avg_sq", s.expAvgSq);
    out.emplace_back(s.name + ".step", s.step);
  }
  return out;
}

void AdamW::loadState(const models::NamedTensors& state, const std::string& where) {
  std::map<std::string, at::Tensor> byName(state.begin(), state.end());
  auto take = [&](const std::string& name, at::IntArrayRef shape) {
    auto it = byName.find(name);
    if (it == byName.end()) throw invalidArgument(where + ": optimizer state has no tensor " + name);
    at::Tensor t = it->second;
    if (t.sizes() != shape)
      throw invalidArgument(where + ": optimizer state tensor " + name + " has shape " + c10::str(t.sizes()) +
                            ", expected " + c10::str(shape));
    if (!t.is_floating_point())
      throw invalidArgument(where + ": optimizer state tensor " + name + " is not floating point");
    byName.erase(it);
    return t;
  };
  // Check everything before changing anything, so a bad file leaves the optimizer as it was.
  std::vector<std::array<at::Tensor, 3>> loaded;
  for (const Slot& s : slots_)
    loaded.push_back({take(s.name + ".exp_avg", s.param.sizes()), take(s.name + ".exp_avg_sq", s.param.sizes()),
                      take(s.name + ".step", {})});
  if (!byName.empty())
    throw invalidArgument(where + ": optimizer state tensor " + byName.begin()->first +
                          " belongs to no parameter of this model");
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].owned) continue;
    slots_[i].expAvg.copy_(loaded[i][0]);
    slots_[i].expAvgSq.copy_(loaded[i][1]);
    slots_[i].step.copy_(loaded[i][2]);
  }
}

int64_t AdamW::stateBytes() const {
  int64_t bytes = 0;
  for (const Slot& s : slots_)
    if (s.owned) bytes += static_cast<int64_t>(s.expAvg.nbytes() + s.expAvgSq.nbytes());
  return bytes;
}

double clipGradNorm(const models::NamedTensors& parameters, double maxNorm) {
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> grads;
  for (const auto& [name, p] : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  // torch/nn/utils/clip_grad.py: per-gradient norms (_foreach_norm), the norm of those, then
  // `max_norm / (total_norm + 1e-6)`, which Tensor.__rtruediv__ computes as reciprocal() * max_norm.
  const std::vector<at::Tensor> norms = at::_foreach_norm(grads, 2);
  const at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
  const at::Tensor clipCoef = (total + 1e-6).reciprocal() * maxNorm;
  at::_foreach_mul_(grads, at::clamp(clipCoef, std::nullopt, 1.0));
  return total.item<double>();
}

}  // namespace alignkit::train
