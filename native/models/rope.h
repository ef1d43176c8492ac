// Rotary position embeddings as transformers computes them (modeling_rope_utils.py and LlamaRotaryEmbedding):
// the same float32 operations in the same order, so positions far from zero round the same way.
#pragma once

#include <ATen/ATen.h>

#include "models/config.h"

namespace alignkit::models {

// inv_freq, (headDim / 2) float32, for the configured RoPE type.
at::Tensor ropeInverseFrequencies(const RopeConfig& rope, int64_t headDim);

struct RopeAngles {
  at::Tensor cos, sin;  // (B, T, headDim), in the activations' dtype
};

// positionIds is (B, T) int64 on the device of invFreq.
RopeAngles ropeAngles(const at::Tensor& invFreq, const at::Tensor& positionIds, at::ScalarType dtype);

// x is (B, heads, T, headDim); rotates pairs (i, i + headDim/2) as transformers' rotate_half does.
at::Tensor applyRope(const at::Tensor& x, const RopeAngles& angles);

}  // namespace alignkit::models
