// The decoder-only transformer of every family alignkit runs (Llama, Mistral, Qwen2/3, Granite, OLMo 2, SmolLM3,
// Gemma 2/3, Phi-3, Mixtral, Qwen3-MoE), written with ATen ops so autograd trains it. One decoder: a family is its
// ModelConfig switches (config.cpp's table) selecting among small blocks (norm placement and kind, q/k norm, fused
// projections, MLP activation, multipliers, soft-caps, a Mixture-of-Experts MLP: models/moe.h). Parameters keep their
// Hugging Face names; the forward mirrors each modeling_<family>.py.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/config.h"
#include "models/expert_lora.h"
#include "models/kv_cache.h"
#include "models/lora.h"
#include "models/moe.h"
#include "models/parameter_units.h"
#include "models/rope.h"

namespace alignkit::models {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The parameter names and shapes a config implies, in state-dict order. Tied models have no lm_head.weight.
std::vector<std::pair<std::string, std::vector<int64_t>>> expectedParameters(const ModelConfig& config);

class CausalLM {
 public:
  // `parameters` must hold exactly expectedParameters(config), already on their device and dtype.
  CausalLM(ModelConfig config, NamedTensors parameters);

  const ModelConfig& config() const { return config_; }
  const NamedTensors& parameters() const { return parameters_; }
  at::Device device() const { return embedTokens_.device(); }
  at::ScalarType dtype() const { return embedTokens_.scalar_type(); }
  const at::Tensor& lmHeadWeight() const { return lmHead_; }

  // LoRA (models/lora.h) on the projections `weights` names (loraAName/loraBName of each of loraTargets()),
  // converted to the model's device and dtype. The base parameters stop requiring grad; the adapters require it.
  void attachLora(const LoraConfig& config, const NamedTensors& weights);
  const std::optional<LoraConfig>& lora() const { return lora_; }
  const NamedTensors& adapterParameters() const { return adapters_; }
  // What training updates and the optimizer holds state for: the adapters when attached, else every parameter.
  const NamedTensors& trainableParameters() const { return lora_ ? adapters_ : parameters_; }
  // While false, forwards run the base model alone: DPO's reference with LoRA, without a second copy of the
  // weights. Callers hold the model's lock across the switch and the forward.
  void setAdaptersEnabled(bool enabled) const { adaptersEnabled_ = enabled; }
  // W += scaling · B A for every adapted projection and MoE parameter (models/expert_lora.h), then the adapters are
  // dropped (PEFT's merge_and_unload).
  void mergeLora();
  // TRL's disable_dropout_in_model: LoRA dropout stays off in training; lora() keeps its configured value.
  void disableDropout() { dropoutDisabled_ = true; }
  // ZeRO-3 (distributed/full_shard.h): the hooks that gather and free each unit of parameters around its use. With
  // them every decoder layer of a forward autograd records runs through the per-layer recompute, so that its
  // backward gathers the layer again instead of keeping it.
  void setParameterUnits(std::shared_ptr<ParameterUnits> units) { units_ = std::move(units); }

  // inputIds (B, T) integer; attentionMask (B, T) 0/1 or undefined; positionIds (B, T) or undefined, which
  // means 0..T-1 for every row, as transformers does when none are passed (also with left padding). Without an
  // attentionMask, positions that restart split a row into sequences that do not attend to each other (packing).
  // Returns the final-norm hidden states (B, T, hidden). With gradientCheckpointing, each decoder layer keeps
  // only its input and is recomputed in backward (models/layer_checkpoint.h); as in transformers it applies
  // only to a forward autograd records (a no-grad forward keeps nothing anyway). checkpointedLayers (one flag per
  // decoder layer; empty = all) limits it to some layers, as transformers' every_n_layers does.
  // A MoE model appends each MoE layer's router logits (B * T, experts) to routerLogits when given (with autograd,
  // also through the checkpointed layers' recompute): what loadBalancingLoss (models/moe.h) takes.
  at::Tensor hiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask, const at::Tensor& positionIds,
                          bool gradientCheckpointing = false, const std::vector<bool>& checkpointedLayers = {},
                          std::vector<at::Tensor>* routerLogits = nullptr) const;

  // (B, T, vocab) in the model's dtype.
  at::Tensor logits(const at::Tensor& inputIds, const at::Tensor& attentionMask, const at::Tensor& positionIds,
                    std::vector<at::Tensor>* routerLogits = nullptr) const;

  // The incremental forward of generation: inputIds (B, T) continue the rows `cache` holds (the whole left-padded
  // prompt first, then one token per step) and their keys and values join it. attentionMask (B, T) is 1 on real
  // tokens (undefined: all real). A token's position is the number of real tokens before it in its row, as
  // transformers' generate derives position_ids from the attention mask. Returns the final-norm hidden states
  // (B, T, hidden); the same as hiddenStates() over the whole sequence with those positions.
  at::Tensor cachedHiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask, KvCache& cache) const;

 private:
  struct Adapter {
    at::Tensor a, b;  // A (r, in), B (out, r); undefined when the projection has none
  };
  struct Projection {
    at::Tensor weight, bias;  // bias undefined when the layer has none
    Adapter lora;
  };
  // One decoder layer. A norm the family lacks, and the projections it does not have (Phi-3 keeps qkv and gateUp
  // fused, the others q/k/v and gate/up), stay undefined.
  struct Layer {
    size_t index;  // in layers_, for the KV cache
    at::Tensor attnInNorm, attnOutNorm, mlpInNorm, mlpOutNorm, qNorm, kNorm;
    Projection q, k, v, qkv, o, gate, up, gateUp, down;
    ExpertWeights experts;      // a MoE layer's router and experts (in place of gate/up/down); router undefined else
    ExpertAdapters expertLora;  // LoRA on them (target_parameters)
    std::vector<at::Tensor> parameters() const;  // the defined ones, adapters included
    // By module name (q_proj, qkv_proj, gate_up_proj, ...); nullptr for another name.
    Projection* projection(const std::string& name);
    std::vector<Projection*> projections();
    std::vector<const Projection*> projections() const;
  };

  // Which keys each query attends to: (B, 1, T, S) boolean, or undefined for plain causal attention. `blind`
  // (B, 1, T, 1), when defined, marks the queries transformers' mask lets see no key (left padding before a row's
  // first token): `keys` lets them see every key, so SDPA stays finite, and their attention output is then set to
  // 0, which is what SDPA gives transformers for such a row (the next token's loss reads it).
  struct AttentionMask {
    at::Tensor keys, blind;
  };

  // x W^T + b, plus the LoRA term when the projection has an adapter and adapters are enabled.
  at::Tensor linear(const at::Tensor& x, const Projection& p, bool train) const;

  // The projections `ps` of norm(x) (of x when `norm` is undefined), in one autograd function when they allow it.
  std::vector<at::Tensor> project(const at::Tensor& x, const at::Tensor& norm, const std::vector<const Projection*>& ps,
                                  bool train) const;

  // One decoder layer on the stream x (B, T, hidden): attention then MLP, each added back to the stream with the
  // family's norms around it (BlockLayout) and its residual multiplier. With a cache, the keys and values of x join
  // it and attention reads all of the cache's. `angles` undefined: the layer has no RoPE (SmolLM3's NoPE layers).
  // `train`: LoRA dropout is drawn (a forward autograd records, as PEFT's modules are in train mode then).
  // routerLogits: a MoE layer appends its router logits there (moeMlp).
  at::Tensor decoderLayer(const Layer& layer, const at::Tensor& x, const RopeAngles& angles, const AttentionMask& mask,
                          bool train, KvCache* cache = nullptr, std::vector<at::Tensor>* routerLogits = nullptr) const;

  // The attention and MLP blocks of the stream x, each normalising it first where the family does.
  at::Tensor attention(const Layer& layer, const at::Tensor& x, const RopeAngles& angles, const AttentionMask& mask,
                       bool train, KvCache* cache) const;
  at::Tensor mlp(const Layer& layer, const at::Tensor& x, bool train, std::vector<at::Tensor>* routerLogits) const;

  // The token embeddings, times the family's embedding multiplier.
  at::Tensor embed(const at::Tensor& ids) const;
  // The RoPE angles of each decoder layer for these positions (undefined for a NoPE layer).
  std::vector<RopeAngles> layerAngles(const at::Tensor& positions) const;

  // inputIds as int64 on the model's device, checked to lie in the vocabulary.
  at::Tensor tokenIds(const at::Tensor& inputIds) const;

  ModelConfig config_;
  NamedTensors parameters_;
  at::Tensor embedTokens_, finalNorm_, lmHead_;
  at::Tensor invFreq_, invFreqLong_, invFreqSliding_;  // RoPE; longrope's long factors; Gemma 3's local RoPE
  std::vector<Layer> layers_;
  std::optional<LoraConfig> lora_;
  NamedTensors adapters_;
  mutable bool adaptersEnabled_ = true;
  bool dropoutDisabled_ = false;
  std::shared_ptr<ParameterUnits> units_;  // set under ZeRO-3
};

// Switches a model's LoRA adapters off for a scope (a reference forward), back on however the scope ends.
class AdaptersOff {
 public:
  AdaptersOff(const CausalLM& model, bool off) : model_(model) { model_.setAdaptersEnabled(!off); }
  ~AdaptersOff() { model_.setAdaptersEnabled(true); }
  AdaptersOff(const AdaptersOff&) = delete;
  AdaptersOff& operator=(const AdaptersOff&) = delete;

 private:
  const CausalLM& model_;
};

}  // namespace alignkit::models
