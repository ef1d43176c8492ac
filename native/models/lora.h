// LoRA adapters on the decoder's linear layers (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models",
// https://arxiv.org/abs/2106.09685) as PEFT's LoraLayer applies them: y = W x + b + B(A(dropout(x))) · scaling,
// with A (r, in) Kaiming-uniform and B (out, r) zeros at init, scaling = lora_alpha / r (lora_alpha / √r with
// use_rslora). The base weights stay frozen; only A and B train.
#pragma once

#include <ATen/ATen.h>

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

  double scaling() const;
  // Throws naming the field for r ≤ 0, a dropout outside [0, 1), or an unknown or empty target list.
  void validate() const;
};

// One adapted projection: its module path ("model.layers.0.self_attn.q_proj") and in/out features.
struct LoraTarget {
  std::string module;
  int64_t inFeatures, outFeatures;
};

// The projections of `model` that `lora` adapts, in state-dict order. all-linear takes every decoder projection
// (PEFT leaves the output layer out).
std::vector<LoraTarget> loraTargets(const ModelConfig& model, const LoraConfig& lora);

// PEFT's tensor names for a module's adapter (in memory, without the adapter name).
std::string loraAName(const std::string& module);
std::string loraBName(const std::string& module);

// Fresh adapters as PEFT's LoraLayer.update_layer makes them (init_lora_weights=True): A ~ kaiming_uniform_(a=√5),
// i.e. U(−1/√in, 1/√in), and B = 0, named by loraAName / loraBName. With a seed the draws are those of
// `torch.manual_seed(seed); get_peft_model(model, config)` on CPU, bit for bit; without, torch's default generator.
std::vector<std::pair<std::string, at::Tensor>> initLoraWeights(const std::vector<LoraTarget>& targets, int64_t r,
                                                                const at::TensorOptions& options,
                                                                std::optional<uint64_t> seed = std::nullopt);

}  // namespace alignkit::models
