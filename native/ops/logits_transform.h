// The transform some families apply to the lm_head's output before anything reads it (transformers 5.18's
// *ForCausalLM.forward): Granite divides the logits by logits_scaling, Gemma 2/3 soft-cap them with
// final_logit_softcapping. With s = h W^T:
//   z0 = s / scaling,   z = softcap > 0 ? softcap * tanh(z0 / softcap) : z0
//   dz/ds = (1 / scaling) * (softcap > 0 ? 1 - tanh^2(z0 / softcap) : 1)
// Every consumer of the logits (log-softmax, TRL's logged statistics, generation) sees z. The fused log-prob
// kernels apply it to each logits tile and chain dz/ds into the tile's gradient (ops/logits_tile.h); the plain
// paths call applyLogitsTransform. The identity transform (the default) is skipped altogether.
#pragma once

#include <ATen/core/Tensor.h>

namespace alignkit::ops {

struct LogitsTransform {
  double scaling = 1.0;  // Granite's logits_scaling: non-zero
  double softcap = 0.0;  // Gemma 2/3's final_logit_softcapping: 0 (none) or > 0

  bool identity() const { return scaling == 1.0 && softcap == 0.0; }
};

// Throws (invalidArgument, naming `where`) unless scaling is finite and non-zero and softcap finite and >= 0.
void checkLogitsTransform(const LogitsTransform& transform, const char* where);

// z from the logits, in their own dtype and with autograd, as transformers computes it (a bfloat16 model
// divides and tanh's in bfloat16). The identity returns `logits` itself.
at::Tensor applyLogitsTransform(const at::Tensor& logits, const LogitsTransform& transform);

}  // namespace alignkit::ops
