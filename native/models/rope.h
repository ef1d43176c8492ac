// Rotary position embeddings as transformers computes them (modeling_rope_utils.py and LlamaRotaryEmbedding):
// the same float32 operations in the same order, so positions far from zero round the same way.
#pragma once

#include <ATen/ATen.h>

#include "models/config.h"

namespace alignkit::models {

// The number of features RoPE rotates: int(headDim * partial_rotary_factor), all of them by default.
int64_t rotaryDim(const RopeConfig& rope, int64_t headDim);

// inv_freq, (rotaryDim / 2) float32, for the configured RoPE type; longrope's long factors when `longFactors`.
at::Tensor ropeInverseFrequencies(const RopeConfig& rope, int64_t headDim, bool longFactors = false);

struct RopeAngles {
  at::Tensor cos, sin;  // (B, T, headDim), in the activations' dtype
};

// positionIds is (B, T) int64 on the device of invFreq. cos and sin are multiplied by attentionScaling (longrope's
// attention factor) in float32 before the cast, as the rotary embeddings' forward does.
RopeAngles ropeAngles(const at::Tensor& invFreq, const at::Tensor& positionIds, at::ScalarType dtype,
                      double attentionScaling = 1.0);

// x is (B, heads, T, headDim); rotates pairs (i, i + rotary/2) of its first `rotary` features (angles' last size) as
// transformers' rotate_half does, the rest passing through (partial rotary).
at::Tensor applyRope(const at::Tensor& x, const RopeAngles& angles);

}  // namespace alignkit::models
