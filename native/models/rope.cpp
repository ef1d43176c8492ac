#include "models/rope.h"

#include <cmath>

namespace alignkit::models {

at::Tensor ropeInverseFrequencies(const RopeConfig& rope, int64_t headDim) {
  const auto exponents = at::arange(0, headDim, 2, at::kLong).to(at::kFloat) / static_cast<double>(headDim);
  at::Tensor invFreq = 1.0 / at::pow(rope.theta, exponents);
  if (rope.type == "linear") return invFreq / rope.factor;
  if (rope.type != "llama3") return invFreq;

  // Llama 3.1: long wavelengths are divided by `factor`, short ones kept, the band between blended smoothly.
  const double oldContext = static_cast<double>(rope.originalMaxPositions);
  const double lowFreqWavelen = oldContext / rope.lowFreqFactor;
  const double highFreqWavelen = oldContext / rope.highFreqFactor;
  const at::Tensor wavelen = 2 * M_PI / invFreq;
  at::Tensor scaled = at::where(wavelen > lowFreqWavelen, invFreq / rope.factor, invFreq);
  const at::Tensor smooth = (oldContext / wavelen - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor);
  const at::Tensor smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
  const at::Tensor isMedium = (wavelen >= highFreqWavelen).logical_and(wavelen <= lowFreqWavelen);
  return at::where(isMedium, smoothed, scaled);
}

RopeAngles ropeAngles(const at::Tensor& invFreq, const at::Tensor& positionIds, at::ScalarType dtype) {
  // (B, T, 1) * (1, 1, D/2): the same single product per element as transformers' matmul form.
  const at::Tensor freqs = positionIds.to(at::kFloat).unsqueeze(-1) * invFreq.view({1, 1, -1});
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor applyRope(const at::Tensor& x, const RopeAngles& angles) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * angles.cos.unsqueeze(1) + rotated * angles.sin.unsqueeze(1);
}

}  // namespace alignkit::models
