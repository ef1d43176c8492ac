// The decoder-only transformer of the Llama family (Llama, Mistral, Qwen2, Qwen3), written with ATen ops so
// autograd trains it. Parameters keep their Hugging Face names; the forward mirrors modeling_llama.py.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/config.h"
#include "models/kv_cache.h"
#include "models/lora.h"
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
  // W += scaling · B A for every adapted projection, then the adapters are dropped (PEFT's merge_and_unload).
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
  at::Tensor hiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask, const at::Tensor& positionIds,
                          bool gradientCheckpointing = false, const std::vector<bool>& checkpointedLayers = {}) const;

  // (B, T, vocab) in the model's dtype.
  at::Tensor logits(const at::Tensor& inputIds, const at::Tensor& attentionMask, const at::Tensor& positionIds) const;

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
  struct Layer {
    size_t index;  // in layers_, for the KV cache
    at::Tensor inputNorm, postAttentionNorm;
    at::Tensor q, qBias, k, kBias, v, vBias, o, oBias, qNorm, kNorm;
    at::Tensor gate, gateBias, up, upBias, down, downBias;
    Adapter qLora, kLora, vLora, oLora, gateLora, upLora, downLora;
    std::vector<at::Tensor> parameters() const;  // the defined ones, adapters included
  };

  // x W^T + b, plus the LoRA term when the projection has an adapter and adapters are enabled.
  at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const Adapter& lora,
                    bool train) const;

  // x + attention, then + MLP, each on the RMS-normed stream (LlamaDecoderLayer); x (B, T, hidden). With a
  // cache, the keys and values of x join it and attention reads all of the cache's.
  // `train`: LoRA dropout is drawn (a forward autograd records, as PEFT's modules are in train mode then).
  at::Tensor decoderLayer(const Layer& layer, const at::Tensor& x, const RopeAngles& angles, const at::Tensor& mask,
                          bool train, KvCache* cache = nullptr) const;

  // The attention and MLP blocks of the stream x, each normalising it first (input_layernorm,
  // post_attention_layernorm).
  at::Tensor attention(const Layer& layer, const at::Tensor& x, const RopeAngles& angles, const at::Tensor& mask,
                       bool train, KvCache* cache) const;
  at::Tensor mlp(const Layer& layer, const at::Tensor& x, bool train) const;

  // inputIds as int64 on the model's device, checked to lie in the vocabulary.
  at::Tensor tokenIds(const at::Tensor& inputIds) const;

  ModelConfig config_;
  NamedTensors parameters_;
  at::Tensor embedTokens_, finalNorm_, lmHead_, invFreq_;
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
