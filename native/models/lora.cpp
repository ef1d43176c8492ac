#include "models/lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "models/expert_lora.h"

namespace alignkit::models {
namespace {

// torch.nn.init.kaiming_uniform_(t, a=√5) on a (out, fanIn) float32 tensor, its bound computed as torch does.
at::Tensor kaimingUniform(int64_t out, int64_t fanIn, const std::optional<at::Generator>& generator) {
  const double a = std::sqrt(5.0);
  const double gain = std::sqrt(2.0 / (1 + std::pow(a, 2)));
  const double bound = std::sqrt(3.0) * (gain / std::sqrt(static_cast<double>(fanIn)));
  return at::empty({out, fanIn}, at::kFloat).uniform_(-bound, bound, generator);
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// PEFT's check_target_module_exists for a list: the module path equals a target or ends with "." + target.
bool targeted(const std::string& module, const std::vector<std::string>& targets) {
  for (const std::string& t : targets)
    if (t == "all-linear" || module == t || endsWith(module, "." + t)) return true;
  return false;
}

}  // namespace

std::vector<LayerLinear> layerLinears(const ModelConfig& c) {
  const int64_t h = c.hiddenSize, i = c.intermediateSize;
  const int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
  if (c.fusedProjections)
    return {{"self_attn.qkv_proj", h, qDim + 2 * kvDim, false},
            {"self_attn.o_proj", qDim, h, false},
            {"mlp.gate_up_proj", h, 2 * i, false},
            {"mlp.down_proj", i, h, false}};
  return {{"self_attn.q_proj", h, qDim, c.qkvBias},  {"self_attn.k_proj", h, kvDim, c.qkvBias},
          {"self_attn.v_proj", h, kvDim, c.qkvBias}, {"self_attn.o_proj", qDim, h, c.outputBias},
          {"mlp.gate_proj", h, i, c.mlpBias},        {"mlp.up_proj", h, i, c.mlpBias},
          {"mlp.down_proj", i, h, c.mlpBias}};
}

double LoraConfig::scaling() const {
  return useRslora ? loraAlpha / std::sqrt(static_cast<double>(r)) : loraAlpha / static_cast<double>(r);
}

void LoraConfig::validate() const {
  if (r <= 0) throw invalidArgument("lora_r: expected a positive integer, got " + std::to_string(r));
  if (!(loraDropout >= 0 && loraDropout < 1))
    throw invalidArgument("lora_dropout: expected a number in [0, 1), got " + std::to_string(loraDropout));
  if (targetModules.empty() && targetParameters.empty())
    throw invalidArgument(
        "lora_target_modules: expected projection names (q_proj, k_proj, v_proj, o_proj, "
        "gate_proj, up_proj, down_proj) or all-linear, got none");
}

LoraConfig resolveLoraConfig(const ModelConfig& c, const LoraConfig& lora) {
  const bool allLinear =
      std::find(lora.targetModules.begin(), lora.targetModules.end(), "all-linear") != lora.targetModules.end();
  if (c.moe.numExperts == 0 || !allLinear || !lora.targetParameters.empty()) return lora;
  // PEFT 0.21 (transformers_weight_conversion): the experts' gate_proj/up_proj/down_proj names all-linear finds become
  // the fused parameters, gate and up in one at twice the rank and alpha; the router joins them. A dense layer's
  // MLP (Qwen3-MoE's mlp_only_layers) shares those names and so is left out: the attention projections remain.
  LoraConfig out = lora;
  out.targetModules.clear();
  for (const LayerLinear& p : layerLinears(c))
    if (p.name.rfind("self_attn.", 0) == 0) out.targetModules.push_back(p.name.substr(p.name.find('.') + 1));
  out.targetParameters = {"down_proj", "gate.weight", "gate_up_proj"};
  out.rankPattern = {{".*\\.gate_up_proj", 2 * lora.r}};
  out.alphaPattern = {{".*\\.gate_up_proj", 2 * lora.loraAlpha}};
  return out;
}

std::vector<LoraTarget> loraTargets(const ModelConfig& c, const LoraConfig& config) {
  const LoraConfig lora = resolveLoraConfig(c, config);
  const std::vector<LayerLinear> linears = layerLinears(c);
  std::vector<LoraTarget> targets;
  std::vector<bool> used(lora.targetModules.size(), false);
  for (int64_t i = 0; i < c.numLayers; ++i)
    for (const LayerLinear& p : linears) {
      // A MoE layer has experts where the dense MLP's projections would be (models/moe.h).
      if (static_cast<size_t>(i) < c.moeLayers.size() && c.moeLayers[i] && p.name.rfind("mlp.", 0) == 0) continue;
      const std::string module = "model.layers." + std::to_string(i) + "." + p.name;
      if (!targeted(module, lora.targetModules)) continue;
      targets.push_back({module, p.inFeatures, p.outFeatures, "", 0, 0});
      for (size_t t = 0; t < used.size(); ++t) used[t] = used[t] || targeted(module, {lora.targetModules[t]});
    }
  std::string names;
  for (const LayerLinear& p : linears) names += p.name.substr(p.name.find('.') + 1) + ", ";
  for (size_t t = 0; t < used.size(); ++t)
    if (!used[t])
      throw invalidArgument("lora_target_modules: '" + lora.targetModules[t] +
                            "' names no linear layer of this model (expected " + names +
                            "all-linear or a module path)");
  const std::vector<LoraTarget> experts = expertLoraTargets(c, lora);
  targets.insert(targets.end(), experts.begin(), experts.end());
  return targets;
}

std::string loraAName(const std::string& module) { return module + ".lora_A.weight"; }
std::string loraBName(const std::string& module) { return module + ".lora_B.weight"; }

std::vector<std::pair<std::string, at::Tensor>> initLoraWeights(const std::vector<LoraTarget>& targets, int64_t r,
                                                                const at::TensorOptions& options,
                                                                std::optional<uint64_t> seed) {
  std::optional<at::Generator> generator;
  if (seed) generator = at::make_generator<at::CPUGeneratorImpl>(*seed);
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const LoraTarget& t : targets) {
    // update_layer builds lora_A and lora_B as nn.Linear (each drawing its default init), then
    // reset_lora_parameters draws A again and zeroes B: three draws per module, in module order.
    const int64_t rank = t.rank > 0 ? t.rank : r;
    kaimingUniform(rank, t.inFeatures, generator);
    kaimingUniform(t.outFeatures, rank, generator);
    const at::Tensor a = kaimingUniform(rank, t.inFeatures, generator);
    out.emplace_back(loraAName(t.module), a.to(options));
    out.emplace_back(loraBName(t.module), at::zeros({t.outFeatures, rank}, options));
  }
  return out;
}

}  // namespace alignkit::models
