#include "models/expert_lora.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

#include "common/error.h"

namespace alignkit::models {
namespace {

// The rank_pattern / alpha_pattern key PEFT 0.21's all-linear conversion writes for the fused gate_up_proj.
const std::string kGateUpPattern = ".*\\.gate_up_proj";

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ParamWrapper's delta weights of a 3-D parameter, (experts, out, in): get_delta_weight's
// einsum("o r e, e r i -> e o i", B.reshape(out, r, E), A.reshape(E, r, in)) · scaling.
at::Tensor expertDeltas(const ExpertAdapter& adapter, int64_t experts) {
  const at::Tensor a = adapter.a.reshape({experts, -1, adapter.a.size(1)});
  const at::Tensor b = adapter.b.reshape({adapter.b.size(0), -1, experts}).permute({2, 0, 1});
  return at::matmul(b, a) * adapter.scaling;
}

}  // namespace

ExpertAdapter* ExpertAdapters::slot(const std::string& parameter) {
  if (parameter == "gate.weight") return &router;
  if (parameter == "gate_up_proj") return &gateUp;
  if (parameter == "down_proj") return &down;
  return nullptr;
}

std::vector<at::Tensor> ExpertAdapters::tensors() const {
  std::vector<at::Tensor> out;
  for (const ExpertAdapter* a : {&router, &gateUp, &down})
    if (a->a.defined()) out.insert(out.end(), {a->a, a->b});
  return out;
}

std::vector<LoraTarget> expertLoraTargets(const ModelConfig& c, const LoraConfig& lora) {
  if (lora.targetParameters.empty()) return {};
  if (c.moe.numExperts == 0)
    throw invalidArgument(
        "target_parameters: only a Mixture-of-Experts model's router (gate.weight) and experts "
        "(gate_up_proj, down_proj) can be adapted, and " +
        c.modelType + " has none");
  if (lora.loraDropout != 0)
    throw invalidArgument("lora_dropout: " + std::to_string(lora.loraDropout) +
                          " with the router and experts of a Mixture-of-Experts model adapted (target_parameters, "
                          "which all-linear implies there): PEFT 0.21's ParamWrapper does not work with "
                          "lora_dropout != 0 (dropout cannot act on the input of a weight delta); set lora_dropout 0");
  const int64_t E = c.moe.numExperts, H = c.hiddenSize, I = c.moe.intermediateSize;
  auto scaling = [&](double alpha, int64_t r) {
    return lora.useRslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
  };
  auto targeted = [&](const std::string& key, std::vector<bool>* used) {
    bool hit = false;
    for (size_t t = 0; t < lora.targetParameters.size(); ++t) {
      const std::string& name = lora.targetParameters[t];
      if (key == name || endsWith(key, "." + name)) {
        hit = true;
        if (used) (*used)[t] = true;
      }
    }
    return hit;
  };
  const auto rankIt = lora.rankPattern.find(kGateUpPattern);
  const auto alphaIt = lora.alphaPattern.find(kGateUpPattern);
  const int64_t gateUpR = rankIt == lora.rankPattern.end() ? lora.r : rankIt->second;
  const double gateUpAlpha = alphaIt == lora.alphaPattern.end() ? lora.loraAlpha : alphaIt->second;

  std::vector<LoraTarget> out;
  std::vector<bool> used(lora.targetParameters.size(), false);
  for (int64_t i = 0; i < c.numLayers; ++i) {
    if (static_cast<size_t>(i) >= c.moeLayers.size() || !c.moeLayers[i]) continue;
    const std::string p = "model.layers." + std::to_string(i) + ".mlp.";
    const bool router = targeted(p + "gate.weight", &used), gateUp = targeted(p + "experts.gate_up_proj", &used),
               down = targeted(p + "experts.down_proj", &used);
    std::vector<LoraTarget> experts;
    // ParamWrappers nest in the experts module's parameter order: gate_up_proj wrapped first (the inner one).
    if (gateUp)
      experts.push_back({p + (down ? "experts.base_layer" : "experts"), H, 2 * I, "gate_up_proj", gateUpR * E,
                         scaling(gateUpAlpha, gateUpR)});
    if (down) experts.push_back({p + "experts", I, H, "down_proj", lora.r * E, scaling(lora.loraAlpha, lora.r)});
    const LoraTarget gate{p + "gate", H, E, "gate.weight", lora.r, scaling(lora.loraAlpha, lora.r)};
    // PEFT wraps them in module order: Mixtral's block holds the router before the experts, Qwen3-MoE's after.
    if (router && c.modelType == "mixtral") out.push_back(gate);
    out.insert(out.end(), experts.begin(), experts.end());
    if (router && c.modelType != "mixtral") out.push_back(gate);
  }
  for (size_t t = 0; t < used.size(); ++t)
    if (!used[t])
      throw invalidArgument("target_parameters: '" + lora.targetParameters[t] +
                            "' names no parameter of this model's Mixture-of-Experts layers (expected gate.weight, "
                            "gate_up_proj, down_proj or a path ending so, e.g. model.layers.0.mlp.experts.down_proj)");
  return out;
}

ExpertWeights withExpertLora(const ExpertWeights& w, const ExpertAdapters& adapters) {
  ExpertWeights out = w;
  const int64_t E = static_cast<int64_t>(w.gate.size());
  if (adapters.router.a.defined())
    out.router = w.router + at::matmul(adapters.router.b, adapters.router.a) * adapters.router.scaling;
  if (adapters.gateUp.a.defined()) {
    // gate_up_proj's rows: the gate's I, then the up projection's.
    const at::Tensor delta = expertDeltas(adapters.gateUp, E);
    const int64_t I = w.gate[0].size(0);
    for (int64_t e = 0; e < E; ++e) {
      out.gate[e] = w.gate[e] + delta[e].narrow(0, 0, I);
      out.up[e] = w.up[e] + delta[e].narrow(0, I, I);
    }
  }
  if (adapters.down.a.defined()) {
    const at::Tensor delta = expertDeltas(adapters.down, E);
    for (int64_t e = 0; e < E; ++e) out.down[e] = w.down[e] + delta[e];
  }
  return out;
}

void mergeExpertLora(ExpertWeights& w, const ExpertAdapters& adapters) {
  const at::NoGradGuard noGrad;
  const ExpertWeights merged = withExpertLora(w, adapters);
  w.router.copy_(merged.router);
  for (size_t e = 0; e < w.gate.size(); ++e) {
    w.gate[e].copy_(merged.gate[e]);
    w.up[e].copy_(merged.up[e]);
    w.down[e].copy_(merged.down[e]);
  }
}

}  // namespace alignkit::models
