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
};

}  // namespace alignkit::train
