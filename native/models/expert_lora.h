// LoRA on a Mixture-of-Experts layer's router and experts, as PEFT 0.21's ParamWrapper (target_parameters) applies
// it to transformers 5.18's fused expert parameters gate_up_proj (experts, 2·I, hidden) and down_proj
// (experts, hidden, I): lora_A (rank·experts, in), lora_B (out, rank·experts), and expert e's delta
//   ΔW_e = scaling · B.reshape(out, rank, experts)[:, :, e] @ A.reshape(experts, rank, in)[e]
// (A expert-major, B rank-major, as ParamWrapper.get_delta_weight reshapes them). The router weight (experts,
// hidden) is 2-D: ΔW = scaling · B A, as a linear layer's. The weights used in the forward are W + ΔW (PEFT
// parametrizes the parameter so); dropout cannot apply (ParamWrapper refuses lora_dropout != 0). alignkit keeps
// the experts per expert in the hub layout (models/moe.h): gate_e gets ΔW_e's first I rows, up_e the next I.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/config.h"
#include "models/lora.h"
#include "models/moe.h"

namespace alignkit::models {

struct ExpertAdapter {
  at::Tensor a, b;  // PEFT's lora_A, lora_B; undefined when the parameter has none
  double scaling = 0;
};

// One MoE layer's adapters, by the parameter PEFT names.
struct ExpertAdapters {
  ExpertAdapter router, gateUp, down;  // gate.weight, gate_up_proj, down_proj
  bool any() const { return router.a.defined() || gateUp.a.defined() || down.a.defined(); }
  // "gate.weight", "gate_up_proj", "down_proj"; nullptr for another name.
  ExpertAdapter* slot(const std::string& parameter);
  std::vector<at::Tensor> tensors() const;  // the defined A and B
};

// resolved.targetParameters' adapters on `model`'s MoE layers (LoraTarget.parameter set), layer by layer, under
// PEFT's module names: model.layers.N.mlp.gate (router), model.layers.N.mlp.experts (the outer wrapper: down_proj
// when both expert parameters are adapted), model.layers.N.mlp.experts.base_layer (gate_up_proj, the inner one).
// Throws for lora_dropout > 0 or a name that matches no parameter.
std::vector<LoraTarget> expertLoraTargets(const ModelConfig& model, const LoraConfig& resolved);

// `w` with the adapters' deltas added, with autograd through the adapters.
ExpertWeights withExpertLora(const ExpertWeights& w, const ExpertAdapters& adapters);

// merge_and_unload: the deltas added into w's tensors in place.
void mergeExpertLora(ExpertWeights& w, const ExpertAdapters& adapters);

}  // namespace alignkit::models
