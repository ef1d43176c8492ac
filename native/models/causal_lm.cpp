#include "models/causal_lm.h"

#include <ATen/core/grad_mode.h>

#include <map>

#include "common/error.h"
#include "models/attention_mask.h"
#include "models/layer_checkpoint.h"
#include "models/rms_norm.h"
#include "models/rope.h"
#include "models/swiglu_mlp.h"

namespace alignkit::models {
namespace {

// Expands (B, kvHeads, T, D) to (B, kvHeads * groups, T, D) as transformers' repeat_kv does.
at::Tensor repeatKv(const at::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const auto s = x.sizes();
  return x.unsqueeze(2).expand({s[0], s[1], groups, s[2], s[3]}).reshape({s[0], s[1] * groups, s[2], s[3]});
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> expectedParameters(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  const int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
  out.push_back({"model.embed_tokens.weight", {c.vocabSize, c.hiddenSize}});
  for (int64_t i = 0; i < c.numLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    auto projection = [&](const std::string& name, int64_t outDim, int64_t inDim, bool bias) {
      out.push_back({p + name + ".weight", {outDim, inDim}});
      if (bias) out.push_back({p + name + ".bias", {outDim}});
    };
    out.push_back({p + "input_layernorm.weight", {c.hiddenSize}});
    projection("self_attn.q_proj", qDim, c.hiddenSize, c.qkvBias);
    projection("self_attn.k_proj", kvDim, c.hiddenSize, c.qkvBias);
    projection("self_attn.v_proj", kvDim, c.hiddenSize, c.qkvBias);
    projection("self_attn.o_proj", c.hiddenSize, qDim, c.outputBias);
    if (c.qkNorm) {
      out.push_back({p + "self_attn.q_norm.weight", {c.headDim}});
      out.push_back({p + "self_attn.k_norm.weight", {c.headDim}});
    }
    out.push_back({p + "post_attention_layernorm.weight", {c.hiddenSize}});
    projection("mlp.gate_proj", c.intermediateSize, c.hiddenSize, c.mlpBias);
    projection("mlp.up_proj", c.intermediateSize, c.hiddenSize, c.mlpBias);
    projection("mlp.down_proj", c.hiddenSize, c.intermediateSize, c.mlpBias);
  }
  out.push_back({"model.norm.weight", {c.hiddenSize}});
  if (c.numLabels > 0)
    out.push_back({"score.weight", {c.numLabels, c.hiddenSize}});
  else if (!c.tieWordEmbeddings)
    out.push_back({"lm_head.weight", {c.vocabSize, c.hiddenSize}});
  return out;
}

CausalLM::CausalLM(ModelConfig config, NamedTensors parameters)
    : config_(std::move(config)), parameters_(std::move(parameters)) {
  std::map<std::string, at::Tensor> byName(parameters_.begin(), parameters_.end());
  auto get = [&](const std::string& name) {
    auto it = byName.find(name);
    if (it == byName.end()) throw invalidArgument("CausalLM: parameter '" + name + "' was not provided");
    return it->second;
  };
  auto optional = [&](const std::string& name) { return byName.count(name) ? byName[name] : at::Tensor(); };

  embedTokens_ = get("model.embed_tokens.weight");
  finalNorm_ = get("model.norm.weight");
  lmHead_ = config_.numLabels > 0       ? get("score.weight")
            : config_.tieWordEmbeddings ? embedTokens_
                                        : get("lm_head.weight");
  for (int64_t i = 0; i < config_.numLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer l;
    l.index = static_cast<size_t>(i);
    l.inputNorm = get(p + "input_layernorm.weight");
    l.postAttentionNorm = get(p + "post_attention_layernorm.weight");
    l.q = get(p + "self_attn.q_proj.weight");
    l.k = get(p + "self_attn.k_proj.weight");
    l.v = get(p + "self_attn.v_proj.weight");
    l.o = get(p + "self_attn.o_proj.weight");
    l.qBias = optional(p + "self_attn.q_proj.bias");
    l.kBias = optional(p + "self_attn.k_proj.bias");
    l.vBias = optional(p + "self_attn.v_proj.bias");
    l.oBias = optional(p + "self_attn.o_proj.bias");
    l.qNorm = optional(p + "self_attn.q_norm.weight");
    l.kNorm = optional(p + "self_attn.k_norm.weight");
    l.gate = get(p + "mlp.gate_proj.weight");
    l.up = get(p + "mlp.up_proj.weight");
    l.down = get(p + "mlp.down_proj.weight");
    l.gateBias = optional(p + "mlp.gate_proj.bias");
    l.upBias = optional(p + "mlp.up_proj.bias");
    l.downBias = optional(p + "mlp.down_proj.bias");
    layers_.push_back(std::move(l));
  }
  invFreq_ = ropeInverseFrequencies(config_.rope, config_.headDim).to(device());
}

at::Tensor CausalLM::attention(const Layer& l, const at::Tensor& x, const RopeAngles& angles, const at::Tensor& mask,
                               bool train, KvCache* cache) const {
  const int64_t B = x.size(0), T = x.size(1), D = config_.headDim;
  const bool adapters = adaptersEnabled_ && (l.qLora.a.defined() || l.kLora.a.defined() || l.vLora.a.defined());
  at::Tensor q, k, v;
  if (fusesNormedProjections(x) && !adapters && !l.qBias.defined() && !l.kBias.defined() && !l.vBias.defined()) {
    const std::vector<at::Tensor> qkv = normedProjections(x, l.inputNorm, config_.rmsNormEps, {l.q, l.k, l.v});
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    const at::Tensor normed = rmsNorm(x, l.inputNorm, config_.rmsNormEps);
    q = linear(normed, l.q, l.qBias, l.qLora, train);
    k = linear(normed, l.k, l.kBias, l.kLora, train);
    v = linear(normed, l.v, l.vBias, l.vLora, train);
  }
  // (B, T, heads * D) -> (B, T, heads, D); Qwen3 normalises each head before RoPE.
  q = q.view({B, T, config_.numHeads, D});
  k = k.view({B, T, config_.numKvHeads, D});
  v = v.view({B, T, config_.numKvHeads, D});
  if (l.qNorm.defined()) {
    q = rmsNorm(q, l.qNorm, config_.rmsNormEps);
    k = rmsNorm(k, l.kNorm, config_.rmsNormEps);
  }
  q = applyRope(q.transpose(1, 2), angles);
  k = applyRope(k.transpose(1, 2), angles);
  v = v.transpose(1, 2);
  if (cache) std::tie(k, v) = cache->write(l.index, k, v);

  const int64_t groups = config_.numHeads / config_.numKvHeads;
  const std::optional<at::Tensor> attnMask = mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt;
  // SDPA's enable_gqa maps each query head to its KV head where repeat_kv copies the keys and values: generation
  // then reads the cache in place, and unmasked attention on the CPU keeps no expanded copies for the backward
  // (its flash kernel takes grouped heads both ways). transformers too passes enable_gqa there, and repeats
  // with a mask (use_gqa_in_sdpa); CUDA's float32 kernel (memory-efficient) has no grouped heads, so SDPA
  // would fall back to its math path, which keeps whole attention matrices.
  const bool gqa = cache != nullptr || (x.device().is_cpu() && !mask.defined());
  const at::Tensor out = at::scaled_dot_product_attention(
      q, gqa ? k : repeatKv(k, groups), gqa ? v : repeatKv(v, groups), attnMask, /*dropout_p=*/0.0,
      /*is_causal=*/!mask.defined(), /*scale=*/1.0 / std::sqrt(static_cast<double>(D)), /*enable_gqa=*/gqa);
  // (B, heads, T, D) -> (B, T, heads * D)
  return linear(out.transpose(1, 2).reshape({B, T, config_.numHeads * D}), l.o, l.oBias, l.oLora, train);
}

std::vector<at::Tensor> CausalLM::Layer::parameters() const {
  std::vector<at::Tensor> out;
  for (const at::Tensor* t : {&inputNorm, &postAttentionNorm, &q, &qBias, &k, &kBias, &v, &vBias, &o, &oBias, &qNorm,
                              &kNorm, &gate, &gateBias, &up, &upBias, &down, &downBias})
    if (t->defined()) out.push_back(*t);
  for (const Adapter* a : {&qLora, &kLora, &vLora, &oLora, &gateLora, &upLora, &downLora})
    if (a->a.defined()) out.insert(out.end(), {a->a, a->b});
  return out;
}

// PEFT's Linear.forward: result = base(x) + lora_B(lora_A(dropout(x))) * scaling.
at::Tensor CausalLM::linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const Adapter& lora,
                            bool train) const {
  at::Tensor out = bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
  if (!lora.a.defined() || !adaptersEnabled_) return out;
  const bool drop = train && lora_->loraDropout > 0 && !dropoutDisabled_;
  const at::Tensor dropped = drop ? at::dropout(x, lora_->loraDropout, /*train=*/true) : x;
  return out + at::linear(at::linear(dropped, lora.a), lora.b) * lora_->scaling();
}

void CausalLM::attachLora(const LoraConfig& config, const NamedTensors& weights) {
  if (lora_) throw invalidArgument("attachLora: this model already has LoRA adapters");
  config.validate();
  std::map<std::string, at::Tensor> byName(weights.begin(), weights.end());
  NamedTensors adapters;
  std::vector<std::pair<Adapter*, Adapter>> slots;
  for (const LoraTarget& t : loraTargets(config_, config)) {
    const std::vector<int64_t> shapes[] = {{config.r, t.inFeatures}, {t.outFeatures, config.r}};
    Adapter adapter;
    at::Tensor* parts[] = {&adapter.a, &adapter.b};
    const std::string names[] = {loraAName(t.module), loraBName(t.module)};
    for (int i = 0; i < 2; ++i) {
      auto it = byName.find(names[i]);
      if (it == byName.end())
        throw invalidArgument("LoRA adapter: no tensor '" + names[i] + "' for target " + t.module);
      if (it->second.sizes() != at::IntArrayRef(shapes[i]))
        throw invalidArgument("LoRA adapter: '" + names[i] +
                              "' has the wrong shape for r = " + std::to_string(config.r) + " (expected [" +
                              std::to_string(shapes[i][0]) + ", " + std::to_string(shapes[i][1]) + "])");
      *parts[i] = it->second.to(device(), dtype(), /*non_blocking=*/false, /*copy=*/true).set_requires_grad(true);
      adapters.emplace_back(names[i], *parts[i]);
      byName.erase(it);
    }
    const size_t layer = std::stoul(t.module.substr(std::string("model.layers.").size()));
    const std::string proj = t.module.substr(t.module.rfind('.') + 1);
    Layer& l = layers_[layer];
    Adapter* slot = proj == "q_proj"      ? &l.qLora
                    : proj == "k_proj"    ? &l.kLora
                    : proj == "v_proj"    ? &l.vLora
                    : proj == "o_proj"    ? &l.oLora
                    : proj == "gate_proj" ? &l.gateLora
                    : proj == "up_proj"   ? &l.upLora
                                          : &l.downLora;
    slots.emplace_back(slot, adapter);
  }
  if (!byName.empty())
    throw invalidArgument("LoRA adapter: tensor '" + byName.begin()->first + "' is for a module lora_target_modules (" +
                          std::to_string(config.targetModules.size()) + " name(s)) does not select");
  for (auto& [slot, adapter] : slots) *slot = adapter;
  for (auto& [name, p] : parameters_) p.set_requires_grad(false);
  lora_ = config;
  adapters_ = std::move(adapters);
}

void CausalLM::mergeLora() {
  if (!lora_) return;
  at::NoGradGuard noGrad;
  for (Layer& l : layers_) {
    const std::pair<at::Tensor*, Adapter*> pairs[] = {{&l.q, &l.qLora},      {&l.k, &l.kLora},       {&l.v, &l.vLora},
                                                      {&l.o, &l.oLora},      {&l.gate, &l.gateLora}, {&l.up, &l.upLora},
                                                      {&l.down, &l.downLora}};
    for (auto [weight, adapter] : pairs) {
      if (!adapter->a.defined()) continue;
      weight->add_(at::matmul(adapter->b, adapter->a) * lora_->scaling());
      *adapter = Adapter{};
    }
  }
  for (auto& [name, p] : parameters_) p.set_requires_grad(true);
  lora_.reset();
  adapters_.clear();
}

at::Tensor CausalLM::mlp(const Layer& l, const at::Tensor& x, bool train) const {
  // With autograd recording a float32 MLP without biases or active adapters, the functions that save less.
  const bool adapters = adaptersEnabled_ && (l.gateLora.a.defined() || l.upLora.a.defined() || l.downLora.a.defined());
  if (fusesNormedProjections(x) && !adapters && !l.gateBias.defined() && !l.upBias.defined() && !l.downBias.defined()) {
    const std::vector<at::Tensor> gateUp =
        normedProjections(x, l.postAttentionNorm, config_.rmsNormEps, {l.gate, l.up});
    return swigluDown(gateUp[0], gateUp[1], l.down);
  }
  const at::Tensor normed = rmsNorm(x, l.postAttentionNorm, config_.rmsNormEps);
  return linear(
      at::silu(linear(normed, l.gate, l.gateBias, l.gateLora, train)) * linear(normed, l.up, l.upBias, l.upLora, train),
      l.down, l.downBias, l.downLora, train);
}

at::Tensor CausalLM::decoderLayer(const Layer& l, const at::Tensor& x, const RopeAngles& angles, const at::Tensor& mask,
                                  bool train, KvCache* cache) const {
  const at::Tensor h = x + attention(l, x, angles, mask, train, cache);
  return h + mlp(l, h, train);
}

at::Tensor CausalLM::hiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask,
                                  const at::Tensor& positionIds, bool gradientCheckpointing,
                                  const std::vector<bool>& checkpointedLayers) const {
  if (inputIds.dim() != 2) throw invalidArgument("input_ids must be (batch, seq_len)");
  const int64_t B = inputIds.size(0), T = inputIds.size(1);
  for (const at::Tensor* t : {&attentionMask, &positionIds})
    if (t->defined() && (t->dim() != 2 || t->size(0) != B || t->size(1) != T))
      throw invalidArgument("attention_mask and position_ids must have the shape of input_ids (" + std::to_string(B) +
                            ", " + std::to_string(T) + ")");

  const at::Tensor ids = tokenIds(inputIds);
  const at::Tensor positions =
      positionIds.defined() ? positionIds.to(device(), at::kLong)
                            : at::arange(T, at::TensorOptions().dtype(at::kLong).device(device())).expand({B, T});
  const RopeAngles angles = ropeAngles(invFreq_, positions, dtype());
  const at::Tensor fullMask = buildAttentionMask(attentionMask, positionIds, B, T, std::nullopt, device());
  const at::Tensor slidingMask =
      config_.slidingWindow ? buildAttentionMask(attentionMask, positionIds, B, T, config_.slidingWindow, device())
                            : at::Tensor();

  const bool train = at::GradMode::is_enabled();
  // ZeRO-3 recomputes every layer: its backward then gathers the layer's parameters again (ParameterUnits).
  const bool checkpoint = (gradientCheckpointing || units_) && train;
  if (checkpoint && !checkpointedLayers.empty() && checkpointedLayers.size() != layers_.size())
    throw invalidArgument("checkpointedLayers holds " + std::to_string(checkpointedLayers.size()) + " flags for " +
                          std::to_string(layers_.size()) + " decoder layers");
  // LoRA dropout draws random numbers: the recompute must draw the forward's again.
  const bool random = lora_ && lora_->loraDropout > 0 && !dropoutDisabled_ && adaptersEnabled_;
  if (units_) units_->beginForward();
  at::Tensor x = at::embedding(embedTokens_, ids);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const at::Tensor mask = config_.slidingLayers[i] ? slidingMask : fullMask;
    if (units_) units_->beforeLayer(i);
    if (!checkpoint || (!units_ && !checkpointedLayers.empty() && !checkpointedLayers[i])) {
      x = decoderLayer(l, x, angles, mask, train);
      if (units_) units_->afterLayer(i, x);
      continue;
    }
    // The recompute runs in backward, after this call returns: the closure holds what it reads.
    x = checkpointLayer(
        [this, &l, angles, mask](const at::Tensor& input) { return decoderLayer(l, input, angles, mask, true); }, x,
        l.parameters(), random);
    if (units_) units_->afterLayer(i, x);
  }
  return rmsNorm(x, finalNorm_, config_.rmsNormEps);
}

at::Tensor CausalLM::tokenIds(const at::Tensor& inputIds) const {
  const at::Tensor ids = inputIds.to(device(), at::kLong);
  const int64_t maxId = ids.numel() ? ids.max().item<int64_t>() : 0,
                minId = ids.numel() ? ids.min().item<int64_t>() : 0;
  if (minId < 0 || maxId >= config_.vocabSize)
    throw invalidArgument("input_ids hold token id " + std::to_string(minId < 0 ? minId : maxId) +
                          " outside the vocabulary [0, " + std::to_string(config_.vocabSize) + ")");
  return ids;
}

at::Tensor CausalLM::cachedHiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask,
                                        KvCache& cache) const {
  if (inputIds.dim() != 2) throw invalidArgument("input_ids must be (batch, seq_len)");
  if (attentionMask.defined() && !attentionMask.sizes().equals(inputIds.sizes()))
    throw invalidArgument("attention_mask must have the shape of input_ids");
  const at::Tensor ids = tokenIds(inputIds);
  const int64_t T = ids.size(1);
  const at::Tensor keyMask =
      cache.reserve(attentionMask.defined() ? attentionMask.to(device(), at::kLong) : at::ones_like(ids));
  // transformers' _prepare_position_ids_for_generation: cumsum(mask) - 1, 0 on padding; + 1 per later token.
  const at::Tensor positions = (keyMask.cumsum(-1) - 1).masked_fill(keyMask == 0, 0).narrow(1, keyMask.size(1) - T, T);
  const RopeAngles angles = ropeAngles(invFreq_, positions, dtype());
  const at::Tensor fullMask = buildCachedAttentionMask(keyMask, T, std::nullopt);
  const at::Tensor slidingMask =
      config_.slidingWindow ? buildCachedAttentionMask(keyMask, T, config_.slidingWindow) : at::Tensor();

  if (units_) units_->beginForward();
  at::Tensor x = at::embedding(embedTokens_, ids);
  for (const Layer& l : layers_) {
    if (units_) units_->beforeLayer(l.index);
    x = decoderLayer(l, x, angles, config_.slidingLayers[l.index] ? slidingMask : fullMask, /*train=*/false, &cache);
    if (units_) units_->afterLayer(l.index, x);
  }
  cache.commit();
  return rmsNorm(x, finalNorm_, config_.rmsNormEps);
}

at::Tensor CausalLM::logits(const at::Tensor& inputIds, const at::Tensor& attentionMask,
                            const at::Tensor& positionIds) const {
  return at::linear(hiddenStates(inputIds, attentionMask, positionIds), lmHead_);
}

}  // namespace alignkit::models
