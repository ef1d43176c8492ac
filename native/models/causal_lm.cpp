#include "models/causal_lm.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/error.h"
#include "models/attention_mask.h"
#include "models/layer_checkpoint.h"
#include "models/rms_norm.h"
#include "models/rope.h"
#include "models/swiglu_mlp.h"
#include "ops/logits_transform.h"

namespace alignkit::models {
namespace {

// The Hugging Face names of a layer's norms, by where they sit (BlockLayout): before attention, after it, before
// the MLP, after it; empty where the family has none.
struct NormNames {
  const char *attnIn, *attnOut, *mlpIn, *mlpOut;
};

NormNames normNames(BlockLayout layout) {
  switch (layout) {
    case BlockLayout::PostNorm:
      return {"", "post_attention_layernorm", "", "post_feedforward_layernorm"};
    case BlockLayout::Sandwich:
      return {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"};
    case BlockLayout::PreNorm:
      break;
  }
  return {"input_layernorm", "", "post_attention_layernorm", ""};
}

// A MoE layer's router and experts under the hub checkpoint's names, as (name, shape), experts in order.
std::vector<std::pair<std::string, std::vector<int64_t>>> expertParameters(const ModelConfig& c, const std::string& p) {
  const MoeConfig& m = c.moe;
  const std::string block = p + m.block + ".";
  std::vector<std::pair<std::string, std::vector<int64_t>>> out{{block + "gate.weight", {m.numExperts, c.hiddenSize}}};
  for (int64_t e = 0; e < m.numExperts; ++e) {
    const std::string expert = block + "experts." + std::to_string(e) + ".";
    out.push_back({expert + m.gateName + ".weight", {m.intermediateSize, c.hiddenSize}});
    out.push_back({expert + m.upName + ".weight", {m.intermediateSize, c.hiddenSize}});
    out.push_back({expert + m.downName + ".weight", {c.hiddenSize, m.intermediateSize}});
  }
  return out;
}

bool isMoeLayer(const ModelConfig& c, int64_t layer) {
  return static_cast<size_t>(layer) < c.moeLayers.size() && c.moeLayers[layer];
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> expectedParameters(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  const NormNames norms = normNames(c.layout);
  const std::vector<LayerLinear> linears = layerLinears(c);
  const int64_t qkNormSize = c.qkNormKind == QkNorm::Full ? 0 : c.headDim;
  out.push_back({"model.embed_tokens.weight", {c.vocabSize, c.hiddenSize}});
  for (int64_t i = 0; i < c.numLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    auto norm = [&](const char* name) {
      if (*name) out.push_back({p + name + ".weight", {c.hiddenSize}});
    };
    auto projection = [&](const LayerLinear& l) {
      out.push_back({p + l.name + ".weight", {l.outFeatures, l.inFeatures}});
      if (l.bias) out.push_back({p + l.name + ".bias", {l.outFeatures}});
    };
    norm(norms.attnIn);
    for (const LayerLinear& l : linears)
      if (l.name.rfind("self_attn.", 0) == 0) projection(l);
    if (c.qkNormKind != QkNorm::None) {
      out.push_back({p + "self_attn.q_norm.weight", {qkNormSize ? qkNormSize : c.numHeads * c.headDim}});
      out.push_back({p + "self_attn.k_norm.weight", {qkNormSize ? qkNormSize : c.numKvHeads * c.headDim}});
    }
    norm(norms.attnOut);
    norm(norms.mlpIn);
    if (isMoeLayer(c, i)) {
      const auto experts = expertParameters(c, p);
      out.insert(out.end(), experts.begin(), experts.end());
    } else {
      for (const LayerLinear& l : linears)
        if (l.name.rfind("mlp.", 0) == 0) projection(l);
    }
    norm(norms.mlpOut);
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
  const NormNames norms = normNames(config_.layout);
  const std::vector<LayerLinear> linears = layerLinears(config_);
  for (int64_t i = 0; i < config_.numLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    auto norm = [&](const char* name) { return *name ? get(p + name + ".weight") : at::Tensor(); };
    Layer l;
    l.index = static_cast<size_t>(i);
    l.attnInNorm = norm(norms.attnIn);
    l.attnOutNorm = norm(norms.attnOut);
    l.mlpInNorm = norm(norms.mlpIn);
    l.mlpOutNorm = norm(norms.mlpOut);
    l.qNorm = optional(p + "self_attn.q_norm.weight");
    l.kNorm = optional(p + "self_attn.k_norm.weight");
    if (isMoeLayer(config_, i)) {
      const auto experts = expertParameters(config_, p);
      l.experts.router = get(experts[0].first);
      for (size_t e = 1; e < experts.size(); e += 3) {
        l.experts.gate.push_back(get(experts[e].first));
        l.experts.up.push_back(get(experts[e + 1].first));
        l.experts.down.push_back(get(experts[e + 2].first));
      }
    }
    for (const LayerLinear& linear : linears) {
      if (isMoeLayer(config_, i) && linear.name.rfind("mlp.", 0) == 0) continue;
      Projection* slot = l.projection(linear.name.substr(linear.name.find('.') + 1));
      slot->weight = get(p + linear.name + ".weight");
      slot->bias = optional(p + linear.name + ".bias");
    }
    layers_.push_back(std::move(l));
  }
  invFreq_ = ropeInverseFrequencies(config_.rope, config_.headDim).to(device());
  if (config_.rope.type == "longrope")
    invFreqLong_ = ropeInverseFrequencies(config_.rope, config_.headDim, /*longFactors=*/true).to(device());
  if (config_.slidingRope) invFreqSliding_ = ropeInverseFrequencies(*config_.slidingRope, config_.headDim).to(device());
}

CausalLM::Projection* CausalLM::Layer::projection(const std::string& name) {
  static const std::pair<const char*, Projection Layer::*> kSlots[] = {
      {"q_proj", &Layer::q},      {"k_proj", &Layer::k},
      {"v_proj", &Layer::v},      {"qkv_proj", &Layer::qkv},
      {"o_proj", &Layer::o},      {"gate_proj", &Layer::gate},
      {"up_proj", &Layer::up},    {"gate_up_proj", &Layer::gateUp},
      {"down_proj", &Layer::down}};
  for (const auto& [slotName, member] : kSlots)
    if (name == slotName) return &(this->*member);
  return nullptr;
}

std::vector<CausalLM::Projection*> CausalLM::Layer::projections() {
  return {&q, &k, &v, &qkv, &o, &gate, &up, &gateUp, &down};
}

std::vector<const CausalLM::Projection*> CausalLM::Layer::projections() const {
  return {&q, &k, &v, &qkv, &o, &gate, &up, &gateUp, &down};
}

std::vector<at::Tensor> CausalLM::Layer::parameters() const {
  std::vector<at::Tensor> out;
  for (const at::Tensor* t : {&attnInNorm, &attnOutNorm, &mlpInNorm, &mlpOutNorm, &qNorm, &kNorm})
    if (t->defined()) out.push_back(*t);
  for (const Projection* p : projections()) {
    for (const at::Tensor* t : {&p->weight, &p->bias})
      if (t->defined()) out.push_back(*t);
    if (p->lora.a.defined()) out.insert(out.end(), {p->lora.a, p->lora.b});
  }
  if (experts.router.defined()) {
    out.push_back(experts.router);
    for (const auto* list : {&experts.gate, &experts.up, &experts.down})
      out.insert(out.end(), list->begin(), list->end());
    const std::vector<at::Tensor> adapters = expertLora.tensors();
    out.insert(out.end(), adapters.begin(), adapters.end());
  }
  return out;
}

void CausalLM::attachLora(const LoraConfig& config, const NamedTensors& weights) {
  if (lora_) throw invalidArgument("attachLora: this model already has LoRA adapters");
  config.validate();
  std::map<std::string, at::Tensor> byName(weights.begin(), weights.end());
  NamedTensors adapters;
  // A sequence classifier's score head trains whole beside the adapters, as PEFT's SEQ_CLS task puts it in
  // modules_to_save; an adapter folder may carry its trained value.
  at::Tensor score;
  if (config_.numLabels > 0) {
    if (auto it = byName.find("score.weight"); it != byName.end()) {
      if (it->second.sizes() != lmHead_.sizes())
        throw invalidArgument("LoRA adapter: 'score.weight' does not have the score head's shape");
      score = it->second;
      byName.erase(it);
    }
  }
  std::vector<std::pair<Adapter*, Adapter>> slots;
  std::vector<std::pair<ExpertAdapter*, ExpertAdapter>> expertSlots;
  for (const LoraTarget& t : loraTargets(config_, config)) {
    const int64_t rank = t.rank > 0 ? t.rank : config.r;
    const std::vector<int64_t> shapes[] = {{rank, t.inFeatures}, {t.outFeatures, rank}};
    Adapter adapter;
    at::Tensor* parts[] = {&adapter.a, &adapter.b};
    const std::string names[] = {loraAName(t.module), loraBName(t.module)};
    for (int i = 0; i < 2; ++i) {
      auto it = byName.find(names[i]);
      if (it == byName.end())
        throw invalidArgument("LoRA adapter: no tensor '" + names[i] + "' for target " + t.module);
      if (it->second.sizes() != at::IntArrayRef(shapes[i]))
        throw invalidArgument("LoRA adapter: '" + names[i] +
                              "' has the wrong shape for r = " + std::to_string(config.r) +
                              (t.parameter.empty() ? "" : " on " + t.parameter) + " (expected [" +
                              std::to_string(shapes[i][0]) + ", " + std::to_string(shapes[i][1]) + "])");
      *parts[i] = it->second.to(device(), dtype(), /*non_blocking=*/false, /*copy=*/true).set_requires_grad(true);
      adapters.emplace_back(names[i], *parts[i]);
      byName.erase(it);
    }
    const size_t layer = std::stoul(t.module.substr(std::string("model.layers.").size()));
    if (!t.parameter.empty()) {
      expertSlots.emplace_back(layers_[layer].expertLora.slot(t.parameter),
                               ExpertAdapter{adapter.a, adapter.b, t.scaling});
      continue;
    }
    const std::string proj = t.module.substr(t.module.rfind('.') + 1);
    slots.emplace_back(&layers_[layer].projection(proj)->lora, adapter);
  }
  if (!byName.empty())
    throw invalidArgument("LoRA adapter: tensor '" + byName.begin()->first + "' is for a module lora_target_modules (" +
                          std::to_string(config.targetModules.size()) + " name(s)) does not select");
  for (auto& [slot, adapter] : slots) *slot = adapter;
  for (auto& [slot, adapter] : expertSlots) *slot = adapter;
  for (auto& [name, p] : parameters_) p.set_requires_grad(false);
  if (config_.numLabels > 0) {
    if (score.defined()) {
      const at::NoGradGuard noGrad;
      lmHead_.copy_(score);
    }
    lmHead_.set_requires_grad(true);
    adapters.emplace_back("score.weight", lmHead_);
  }
  lora_ = resolveLoraConfig(config_, config);
  adapters_ = std::move(adapters);
}

void CausalLM::mergeLora() {
  if (!lora_) return;
  at::NoGradGuard noGrad;
  for (Layer& l : layers_)
    for (Projection* p : l.projections()) {
      if (!p->lora.a.defined()) continue;
      p->weight.add_(at::matmul(p->lora.b, p->lora.a) * lora_->scaling());
      p->lora = Adapter{};
    }
  for (Layer& l : layers_) {
    if (!l.expertLora.any()) continue;
    mergeExpertLora(l.experts, l.expertLora);
    l.expertLora = ExpertAdapters{};
  }
  for (auto& [name, p] : parameters_) p.set_requires_grad(true);
  lora_.reset();
  adapters_.clear();
}

at::Tensor CausalLM::embed(const at::Tensor& ids) const {
  const at::Tensor x = at::embedding(embedTokens_, ids, config_.padTokenId.value_or(-1));
  const double m = config_.embeddingMultiplier;
  if (m == 1.0 && !config_.roundEmbeddingMultiplier) return x;
  // Gemma multiplies by a float32 √hidden cast to the embeddings' dtype; Granite by the number itself.
  return config_.roundEmbeddingMultiplier ? x * at::scalar_tensor(m, at::kFloat).to(dtype()) : x * m;
}

std::vector<RopeAngles> CausalLM::layerAngles(const at::Tensor& positions) const {
  // longrope: the long factors once any position reaches original_max_position_embeddings (dynamic_rope_update
  // reads max(position_ids) + 1 per forward).
  const bool longFactors = invFreqLong_.defined() && positions.numel() > 0 &&
                           positions.max().item<int64_t>() + 1 > config_.rope.originalMaxPositions;
  const double scaling = config_.rope.type == "longrope" ? config_.rope.attentionFactor : 1.0;
  const at::ScalarType type = config_.ropeInFloat32 ? at::kFloat : dtype();
  const RopeAngles global = ropeAngles(longFactors ? invFreqLong_ : invFreq_, positions, type, scaling);
  const RopeAngles local = invFreqSliding_.defined() ? ropeAngles(invFreqSliding_, positions, type) : global;
  std::vector<RopeAngles> out;
  for (size_t i = 0; i < layers_.size(); ++i)
    out.push_back(!config_.ropeLayers[i] ? RopeAngles{} : config_.slidingLayers[i] ? local : global);
  return out;
}

at::Tensor CausalLM::hiddenStates(const at::Tensor& inputIds, const at::Tensor& attentionMask,
                                  const at::Tensor& positionIds, bool gradientCheckpointing,
                                  const std::vector<bool>& checkpointedLayers,
                                  std::vector<at::Tensor>* routerLogits) const {
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
  const std::vector<RopeAngles> angles = layerAngles(positions);
  // transformers' masks as they are. Eager attention (Gemma 2's soft-cap) reads them so (see attention()); for SDPA
  // the queries that see no key are marked (AttentionMask).
  const bool eager = config_.attnLogitSoftcapping > 0;
  auto layerMask = [&](std::optional<int64_t> window) {
    const at::Tensor keys = buildAttentionMask(attentionMask, positionIds, B, T, window, device());
    if (!keys.defined() || eager) return AttentionMask{keys, {}};
    const at::Tensor blind = keys.any(-1, /*keepdim=*/true).logical_not();
    if (!blind.any().item<bool>()) return AttentionMask{keys, {}};
    return AttentionMask{keys.logical_or(blind), blind};
  };
  const AttentionMask fullMask = layerMask(std::nullopt);
  const AttentionMask slidingMask = config_.slidingWindow ? layerMask(config_.slidingWindow) : AttentionMask{};

  const bool train = at::GradMode::is_enabled();
  // ZeRO-3 recomputes every layer: its backward then gathers the layer's parameters again (ParameterUnits).
  const bool checkpoint = (gradientCheckpointing || units_) && train;
  if (checkpoint && !checkpointedLayers.empty() && checkpointedLayers.size() != layers_.size())
    throw invalidArgument("checkpointedLayers holds " + std::to_string(checkpointedLayers.size()) + " flags for " +
                          std::to_string(layers_.size()) + " decoder layers");
  // LoRA dropout draws random numbers: the recompute must draw the forward's again.
  const bool random = lora_ && lora_->loraDropout > 0 && !dropoutDisabled_ && adaptersEnabled_;
  if (units_) units_->beginForward();
  at::Tensor x = embed(ids);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const AttentionMask& mask = config_.slidingLayers[i] ? slidingMask : fullMask;
    if (units_) units_->beforeLayer(i);
    if (!checkpoint || (!units_ && !checkpointedLayers.empty() && !checkpointedLayers[i])) {
      x = decoderLayer(l, x, angles[i], mask, train, nullptr, routerLogits);
      if (units_) units_->afterLayer(i, x);
      continue;
    }
    // The recompute runs in backward, after this call returns: the closure holds what it reads. A MoE layer's
    // router logits leave it as a second output, so the aux loss's gradient reaches the recompute too.
    const bool router = routerLogits && l.experts.router.defined();
    const std::vector<at::Tensor> outputs = checkpointLayer(
        [this, &l, a = angles[i], mask, router](const at::Tensor& input) {
          std::vector<at::Tensor> logits;
          std::vector<at::Tensor> out{decoderLayer(l, input, a, mask, true, nullptr, router ? &logits : nullptr)};
          out.insert(out.end(), logits.begin(), logits.end());
          return out;
        },
        x, l.parameters(), random);
    x = outputs[0];
    if (router) routerLogits->insert(routerLogits->end(), outputs.begin() + 1, outputs.end());
    if (units_) units_->afterLayer(i, x);
  }
  return rmsNorm(x, finalNorm_, config_.rmsNormEps, config_.normKind);
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
  const std::vector<RopeAngles> angles = layerAngles(positions);
  // Padded queries here feed only padded keys, which every real query skips: their outputs need not match.
  const AttentionMask fullMask{buildCachedAttentionMask(keyMask, T, std::nullopt), {}};
  const AttentionMask slidingMask{
      config_.slidingWindow ? buildCachedAttentionMask(keyMask, T, config_.slidingWindow) : at::Tensor(), {}};

  if (units_) units_->beginForward();
  at::Tensor x = embed(ids);
  for (const Layer& l : layers_) {
    if (units_) units_->beforeLayer(l.index);
    x = decoderLayer(l, x, angles[l.index], config_.slidingLayers[l.index] ? slidingMask : fullMask,
                     /*train=*/false, &cache);
    if (units_) units_->afterLayer(l.index, x);
  }
  cache.commit();
  return rmsNorm(x, finalNorm_, config_.rmsNormEps, config_.normKind);
}

at::Tensor CausalLM::logits(const at::Tensor& inputIds, const at::Tensor& attentionMask, const at::Tensor& positionIds,
                            std::vector<at::Tensor>* routerLogits) const {
  const at::Tensor z = at::linear(hiddenStates(inputIds, attentionMask, positionIds, false, {}, routerLogits), lmHead_);
  return ops::applyLogitsTransform(z, {config_.logitsScaling, config_.finalLogitSoftcapping});
}

}  // namespace alignkit::models
