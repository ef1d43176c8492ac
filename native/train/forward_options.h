// The TrainingArguments switches that change how a training forward runs, under their HF names; the DPO step
// takes them with its completion log-probs, and the SFT step can take them alike.
#pragma once

#include <vector>

namespace alignkit::train {

struct ForwardOptions {
  // bf16: the forward runs under torch.autocast(device, bfloat16) (common/autocast.h) while weights, gradients
  // and the optimizer stay float32, as the HF Trainer runs bf16=True through accelerate.
  bool bf16 = false;
  // gradient_checkpointing: each decoder layer is recomputed in backward instead of keeping its activations
  // (models/layer_checkpoint.h). Only a forward with autograd recording is affected.
  bool gradientCheckpointing = false;
  // With gradientCheckpointing, the decoder layers it applies to, one flag per layer (gradient_checkpointing_kwargs'
  // every_n_layers, activation_memory_budget: src/train/checkpointed-layers.ts decides); empty = every layer.
  std::vector<bool> checkpointedLayers;
  // TRL's router_aux_loss_coef (its aux_loss_enabled: a MoE model and a non-zero coefficient): the forward collects
  // the router logits and the step adds router_aux_loss_coef × the load-balancing loss (models/moe.h) to its loss,
  // logged as aux_loss. No effect on a dense model.
  double routerAuxLossCoef = 0.0;
};

// Whether a step on `numExperts` experts adds the router aux loss.
inline bool routerAuxLossEnabled(const ForwardOptions& forward, int64_t numExperts) {
  return numExperts > 0 && forward.routerAuxLossCoef != 0.0;
}

}  // namespace alignkit::train
