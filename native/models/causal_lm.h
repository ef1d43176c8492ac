// The decoder-only transformer of the Llama family (Llama, Mistral, Qwen2, Qwen3), written with ATen ops so
// autograd trains it. Parameters keep their Hugging Face names; the forward mirrors modeling_llama.py.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "models/config.h"
#include "models/kv_cache.h"
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

  // inputIds (B, T) integer; attentionMask (B, T) 0/1 or undefined; positionIds (B, T) or undefined, which
  // means 0..T-1 for every row, as transformers does when none are passed (also with left padding). Without an
  // attentionMask, positions that restart split a row into sequences that do not attend to each other (packing).
  // Returns the final-norm hidden states (B, T, hidden). With gradientCheckpointing, each decoder layer keeps
  // only its input and is recomputed in backward (models/layer_checkpoint.h); as in transformers it applies
  // only to a forward autograd records (a no-grad forward keeps nothing anyway).
  at::Tensor hiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask, const at::Tensor& positionIds,
                          bool gradientCheckpointing = false) const;

  // (B, T, vocab) in the model's dtype.
  at::Tensor logits(const at::Tensor& inputIds, const at::Tensor& attentionMask, const at::Tensor& positionIds) const;

  // The incremental forward of generation: inputIds (B, T) continue the rows `cache` holds (the whole left-padded
  // prompt first, then one token per step) and their keys and values join it. attentionMask (B, T) is 1 on real
  // tokens (undefined: all real). A token's position is the number of real tokens before it in its row, as
  // transformers' generate derives position_ids from the attention mask. Returns the final-norm hidden states
  // (B, T, hidden); the same as hiddenStates() over the whole sequence with those positions.
  at::Tensor cachedHiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask, KvCache& cache) const;

 private:
  struct Layer {
    size_t index;  // in layers_, for the KV cache
    at::Tensor inputNorm, postAttentionNorm;
    at::Tensor q, qBias, k, kBias, v, vBias, o, oBias, qNorm, kNorm;
    at::Tensor gate, gateBias, up, upBias, down, downBias;
    std::vector<at::Tensor> parameters() const;  // the defined ones
  };

  // x + attention, then + MLP, each on the RMS-normed stream (LlamaDecoderLayer); x (B, T, hidden). With a
  // cache, the keys and values of x join it and attention reads all of the cache's.
  at::Tensor decoderLayer(const Layer& layer, const at::Tensor& x, const RopeAngles& angles, const at::Tensor& mask,
                          KvCache* cache = nullptr) const;

  at::Tensor attention(const Layer& layer, const at::Tensor& x, const RopeAngles& angles, const at::Tensor& mask,
                       KvCache* cache) const;
  at::Tensor mlp(const Layer& layer, const at::Tensor& x) const;

  // inputIds as int64 on the model's device, checked to lie in the vocabulary.
  at::Tensor tokenIds(const at::Tensor& inputIds) const;

  ModelConfig config_;
  NamedTensors parameters_;
  at::Tensor embedTokens_, finalNorm_, lmHead_, invFreq_;
  std::vector<Layer> layers_;
};

}  // namespace alignkit::models
