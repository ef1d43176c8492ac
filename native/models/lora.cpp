#include "models/lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "common/error.h"

namespace alignkit::models {
namespace {

const char* const kProjections[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

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

double LoraConfig::scaling() const {
  return useRslora ? loraAlpha / std::sqrt(static_cast<double>(r)) : loraAlpha / static_cast<double>(r);
}

void LoraConfig::validate() const {
  if (r <= 0) throw invalidArgument("lora_r: expected a positive integer, got " + std::to_string(r));
  if (!(loraDropout >= 0 && loraDropout < 1))
    throw invalidArgument("lora_dropout: expected a number in [0, 1), got " + std::to_string(loraDropout));
  if (targetModules.empty())
    throw invalidArgument(
        "lora_target_modules: expected projection names (q_proj, k_proj, v_proj, o_proj, "
        "gate_proj, up_proj, down_proj) or all-linear, got none");
}

std::vector<LoraTarget> loraTargets(const ModelConfig& c, const LoraConfig& lora) {
  const int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
  const int64_t in[] = {c.hiddenSize, c.hiddenSize, c.hiddenSize, qDim, c.hiddenSize, c.hiddenSize, c.intermediateSize};
  const int64_t out[] = {qDim, kvDim, kvDim, c.hiddenSize, c.intermediateSize, c.intermediateSize, c.hiddenSize};
  std::vector<LoraTarget> targets;
  std::vector<bool> used(lora.targetModules.size(), false);
  for (int64_t i = 0; i < c.numLayers; ++i)
    for (size_t p = 0; p < 7; ++p) {
      const std::string module = "model.layers." + std::to_string(i) + "." + kProjections[p];
      if (!targeted(module, lora.targetModules)) continue;
      targets.push_back({module, in[p], out[p]});
      for (size_t t = 0; t < used.size(); ++t) used[t] = used[t] || targeted(module, {lora.targetModules[t]});
    }
  for (size_t t = 0; t < used.size(); ++t)
    if (!used[t])
      throw invalidArgument("lora_target_modules: '" + lora.targetModules[t] +
                            "' names no linear layer of this model (expected q_proj, k_proj, v_proj, o_proj, "
                            "gate_proj, up_proj, down_proj, all-linear or a module path)");
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
    kaimingUniform(r, t.inFeatures, generator);
    kaimingUniform(t.outFeatures, r, generator);
    const at::Tensor a = kaimingUniform(r, t.inFeatures, generator);
    out.emplace_back(loraAName(t.module), a.to(options));
    out.emplace_back(loraBName(t.module), at::zeros({t.outFeatures, r}, options));
  }
  return out;
}

}  // namespace alignkit::models
