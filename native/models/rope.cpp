#include "models/rope.h"

#include <cmath>
#include <vector>

namespace alignkit::models {

int64_t rotaryDim(const RopeConfig& rope, int64_t headDim) {
  return static_cast<int64_t>(static_cast<double>(headDim) * rope.partialRotaryFactor);
}

at::Tensor ropeInverseFrequencies(const RopeConfig& rope, int64_t headDim, bool longFactors) {
  const int64_t dim = rotaryDim(rope, headDim);
  const auto exponents = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  if (rope.type == "longrope") {
    // _compute_longrope_parameters: 1 / (ext_factors * base^(2i/dim)), the factors float32.
    const std::vector<double>& factors = longFactors ? rope.longFactor : rope.shortFactor;
    const at::Tensor ext = at::tensor(factors, at::kDouble).to(at::kFloat);
    return 1.0 / (ext * at::pow(rope.theta, exponents));
  }
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

RopeAngles ropeAngles(const at::Tensor& invFreq, const at::Tensor& positionIds, at::ScalarType dtype,
                      double attentionScaling) {
  // (B, T, 1) * (1, 1, D/2): the same single product per element as transformers' matmul form.
  const at::Tensor freqs = positionIds.to(at::kFloat).unsqueeze(-1) * invFreq.view({1, 1, -1});
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  if (attentionScaling == 1.0) return {emb.cos().to(dtype), emb.sin().to(dtype)};  // × 1.0 is exact
  return {(emb.cos() * attentionScaling).to(dtype), (emb.sin() * attentionScaling).to(dtype)};
}

at::Tensor applyRope(const at::Tensor& x, const RopeAngles& angles) {
  const int64_t rotary = angles.cos.size(-1);
  const bool partial = rotary < x.size(-1);
  const at::Tensor r = partial ? x.narrow(-1, 0, rotary) : x;
  const int64_t half = rotary / 2;
  const at::Tensor rotated = at::cat({-r.narrow(-1, half, half), r.narrow(-1, 0, half)}, -1);
  const at::Tensor out = r * angles.cos.unsqueeze(1) + rotated * angles.sin.unsqueeze(1);
  return partial ? at::cat({out, x.narrow(-1, rotary, x.size(-1) - rotary)}, -1) : out;
}

}  // namespace alignkit::models
