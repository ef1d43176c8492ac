// AdamW as the Hugging Face Trainer runs it: torch.optim.AdamW (Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization", https://arxiv.org/abs/1711.05101) over the two parameter groups of
// Trainer.create_optimizer, and torch.nn.utils.clip_grad_norm_ for max_grad_norm.
//
// Two updates, as TrainingArguments' `optim` picks them: "adamw_torch_fused" (its default) calls torch's fused
// kernel as torch.optim.AdamW(fused=True) does (torch/optim/adam.py `_fused_adam`: one at::_fused_adamw_ per
// group, device and dtype); "adamw_torch" is torch's single-tensor path (`_single_tensor_adam`, what
// AdamW(fused=False) runs on CPU), op for op, so parameters match PyTorch bit for bit on CPU. Both compute
//   step += 1
//   p *= 1 - lr * weight_decay                                  (decay group only)
//   exp_avg.lerp_(g, 1 - beta1);  exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
//   denom = sqrt(exp_avg_sq) / sqrt(1 - beta2^step) + eps
//   p -= lr / (1 - beta1^step) * exp_avg / denom
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/causal_lm.h"

namespace alignkit::train {

// TrainingArguments' adam_beta1, adam_beta2, adam_epsilon, weight_decay, and `optim` (fused: adamw_torch_fused).
struct AdamWOptions {
  double adamBeta1 = 0.9;
  double adamBeta2 = 0.999;
  double adamEpsilon = 1e-8;
  double weightDecay = 0.0;
  bool fused = true;
};

// Whether Trainer.get_decay_parameter_names keeps `name` in the weight-decay group: false for biases and
// norm weights, matched as transformers does, by regex search on the lowercased name for
// bias | layernorm | rmsnorm | (^|.)norm($|.) | _norm($|.)  (so also q_norm / k_norm).
bool appliesWeightDecay(const std::string& name);

class AdamW {
 public:
  // `parameters` share storage with the model's; state starts at zero (what torch creates on a first step).
  // `owned` (one flag per parameter, empty: all) picks the parameters this optimizer updates and keeps state
  // for; the others get no state tensors at all (ZeRO stage 1, distributed/sharded_adamw.h).
  AdamW(const models::NamedTensors& parameters, AdamWOptions options, const std::vector<bool>& owned = {});

  // One update at learning rate `lr` of every owned parameter that has a gradient (others are skipped, their
  // step count unchanged, as torch does).
  void step(double lr);

  // Per owned parameter `<name>.exp_avg`, `<name>.exp_avg_sq` (the parameter's shape and dtype) and
  // `<name>.step` (float32 scalar, as torch keeps it): tensors of the optimizer, not copies.
  models::NamedTensors state() const;

  // Copies the owned parameters' part of a full state() (every parameter's three tensors) back in; throws
  // naming the first tensor that is missing, unexpected or misshapen. `where` names the source (a file).
  void loadState(const models::NamedTensors& state, const std::string& where);

  // Bytes of the exp_avg and exp_avg_sq tensors held (not the scalar step counts).
  int64_t stateBytes() const;

  const std::vector<std::string>& decayParameterNames() const { return decayNames_; }

 private:
  struct Slot {
    std::string name;
    // `step` is a float32 scalar, as torch keeps it: on the parameter's device for the fused kernel, on the
    // host for the single-tensor path.
    at::Tensor param, expAvg, expAvgSq, step;
    bool decay = false;
    bool owned = true;
  };

  // 4 MiB of float32: the size of many activations, whose idle blocks the caching allocator then hands out.
  static constexpr int64_t kUpdateBlock = int64_t{1} << 20;

  void fusedStep(double lr);
  void singleTensorStep(double lr);
  // The single-tensor path's update from the moments, at the step's size and bias correction.
  static void update(Slot& s, double stepSize, double biasCorrection2Sqrt, double eps);

  AdamWOptions options_;
  std::vector<Slot> slots_;
  std::vector<std::string> decayNames_;
};

// torch.nn.utils.clip_grad_norm_(parameters, maxNorm): returns the total L2 norm of all gradients before
// clipping and scales them by min(1, maxNorm / (norm + 1e-6)). maxNorm = +inf only measures.
double clipGradNorm(const models::NamedTensors& parameters, double maxNorm);

}  // namespace alignkit::train
