// LoRA adapters on the decoder's linear layers (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models",
// https://arxiv.org/abs/2106.09685) as PEFT's LoraLayer applies them: y = W x + b + B(A(dropout(x))) · scaling,
// with A (r, in) Kaiming-uniform and B (out, r) zeros at init, scaling = lora_alpha / r (lora_alpha / √r with
// use_rslora). The base weights stay frozen; only A and B train.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/config.h"

namespace alignkit::models {

// One linear layer of every decoder layer: its path under the layer ("self_attn.q_proj"), features, and bias.
struct LayerLinear {
  std::string name;
  int64_t inFeatures, outFeatures;
  bool bias;
};

// The linear layers of a decoder layer of `model`, in state-dict order: q/k/v/o and gate/up/down, or Phi-3's fused
// qkv_proj, o_proj, gate_up_proj, down_proj.
std::vector<LayerLinear> layerLinears(const ModelConfig& model);

// LoraConfig's fields under their PEFT names. target_modules holds projection names (q_proj, k_proj, v_proj,
// o_proj, gate_proj, up_proj, down_proj; Phi-3's qkv_proj, gate_up_proj), "all-linear", or full module paths
// (model.layers.N.mlp.up_proj), as PEFT's own configs hold them.
struct LoraConfig {
  int64_t r = 8;
  double loraAlpha = 8;
  double loraDropout = 0;
  std::vector<std::string> targetModules;
  bool useRslora = false;
  // target_parameters (PEFT 0.21's ParamWrapper) on a Mixture-of-Experts model: the router "gate.weight" and the
  // fused experts "gate_up_proj" / "down_proj", or paths ending so (models/expert_lora.h). loraTargets fills them in
  // for all-linear on such a model, as PEFT's weight conversion does.
  std::vector<std::string> targetParameters;
  // rank_pattern / alpha_pattern: only PEFT's all-linear conversion's key ".*\\.gate_up_proj" (2r, 2α) is applied.
  std::map<std::string, int64_t> rankPattern;
  std::map<std::string, double> alphaPattern;

  double scaling() const;
  // Throws naming the field for r ≤ 0, a dropout outside [0, 1), or an unknown or empty target list.
  void validate() const;
};

// One adapted projection: its module path ("model.layers.0.self_attn.q_proj") and in/out features. A MoE
// parameter's adapter (ParamWrapper) also names the parameter ("gate.weight", "gate_up_proj", "down_proj") and
// its rank, the rows of A: r · experts for the experts (models/expert_lora.h).
struct LoraTarget {
  std::string module;
  int64_t inFeatures, outFeatures;
  std::string parameter = "";  // empty: a linear layer's adapter, rank r
  int64_t rank = 0;
  double scaling = 0;  // a parameter's: lora_alpha / r with its rank_pattern / alpha_pattern
};

// `lora` as PEFT 0.21 applies it to `model`: all-linear on a Mixture-of-Experts model becomes the attention
// projections plus target_parameters down_proj, gate.weight, gate_up_proj, with gate_up_proj at 2r and 2α
// (transformers_weight_conversion: gate and up fold into one parameter). Other configs are returned as they are.
LoraConfig resolveLoraConfig(const ModelConfig& model, const LoraConfig& lora);

// The projections of `model` that `lora` adapts, in state-dict order, then (resolveLoraConfig's) MoE parameters.
// all-linear takes every decoder projection (PEFT leaves the output layer out).
std::vector<LoraTarget> loraTargets(const ModelConfig& model, const LoraConfig& lora);

// PEFT's tensor names for a module's adapter (in memory, without the adapter name).
std::string loraAName(const std::string& module);
std::string loraBName(const std::string& module);

// Fresh adapters as PEFT's LoraLayer.update_layer makes them (init_lora_weights=True): A ~ kaiming_uniform_(a=√5),
// i.e. U(−1/√in, 1/√in), and B = 0, named by loraAName / loraBName, of each target's rank (r when 0). With a seed the
// draws are those of `torch.manual_seed(seed); get_peft_model(model, config)` on CPU, bit for bit; without, torch's
// default generator.
std::vector<std::pair<std::string, at::Tensor>> initLoraWeights(const std::vector<LoraTarget>& targets, int64_t r,
                                                                const at::TensorOptions& options,
                                                                std::optional<uint64_t> seed = std::nullopt);

}  // namespace alignkit::models
