// The blocks of one decoder layer of CausalLM (causal_lm.h): the projections with their LoRA terms, attention (SDPA,
// or eager where a family soft-caps the scores), the gated MLP, and the layer that joins them as the family's block
// layout says. causal_lm.cpp holds the model around them: parameters, LoRA attach/merge, embeddings, the layer loop.
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "models/attention_mask.h"
#include "models/causal_lm.h"
#include "models/moe.h"
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

// torch.finfo(dtype).min, what transformers' masks add.
double lowestOf(at::ScalarType type) {
  switch (type) {
    case at::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

at::Tensor activate(const at::Tensor& x, Activation activation) {
  return activation == Activation::GeluTanh ? at::gelu(x, "tanh") : at::silu(x);
}

}  // namespace

// PEFT's Linear.forward: result = base(x) + lora_B(lora_A(dropout(x))) * scaling.
at::Tensor CausalLM::linear(const at::Tensor& x, const Projection& p, bool train) const {
  at::Tensor out = p.bias.defined() ? at::linear(x, p.weight, p.bias) : at::linear(x, p.weight);
  if (!p.lora.a.defined() || !adaptersEnabled_) return out;
  const bool drop = train && lora_->loraDropout > 0 && !dropoutDisabled_;
  const at::Tensor dropped = drop ? at::dropout(x, lora_->loraDropout, /*train=*/true) : x;
  return out + at::linear(at::linear(dropped, p.lora.a), p.lora.b) * lora_->scaling();
}

std::vector<at::Tensor> CausalLM::project(const at::Tensor& x, const at::Tensor& norm,
                                          const std::vector<const Projection*>& ps, bool train) const {
  const bool plain = std::all_of(ps.begin(), ps.end(), [&](const Projection* p) {
    return !p->bias.defined() && !(adaptersEnabled_ && p->lora.a.defined());
  });
  std::vector<at::Tensor> out;
  if (plain && norm.defined() && fusesNormedProjections(x)) {
    std::vector<at::Tensor> weights;
    for (const Projection* p : ps) weights.push_back(p->weight);
    return normedProjections(x, norm, config_.rmsNormEps, weights, config_.normKind);
  }
  const at::Tensor input = norm.defined() ? rmsNorm(x, norm, config_.rmsNormEps, config_.normKind) : x;
  for (const Projection* p : ps) out.push_back(linear(input, *p, train));
  return out;
}

at::Tensor CausalLM::attention(const Layer& l, const at::Tensor& x, const RopeAngles& angles,
                               const AttentionMask& attentionMask, bool train, KvCache* cache) const {
  const int64_t B = x.size(0), T = x.size(1), D = config_.headDim;
  const int64_t qDim = config_.numHeads * D, kvDim = config_.numKvHeads * D;
  at::Tensor q, k, v;
  if (config_.fusedProjections) {
    // Phi-3's qkv_proj: queries, keys, values side by side in one output.
    const at::Tensor qkv = project(x, l.attnInNorm, {&l.qkv}, train)[0];
    q = qkv.narrow(-1, 0, qDim), k = qkv.narrow(-1, qDim, kvDim), v = qkv.narrow(-1, qDim + kvDim, kvDim);
  } else {
    const std::vector<at::Tensor> qkv = project(x, l.attnInNorm, {&l.q, &l.k, &l.v}, train);
    q = qkv[0], k = qkv[1], v = qkv[2];
  }
  // OLMo 2 normalises the whole projections; Qwen3 and Gemma 3 each head, before RoPE.
  if (config_.qkNormKind == QkNorm::Full) {
    q = rmsNorm(q, l.qNorm, config_.rmsNormEps, config_.normKind);
    k = rmsNorm(k, l.kNorm, config_.rmsNormEps, config_.normKind);
  }
  // (B, T, heads * D) -> (B, T, heads, D)
  q = q.view({B, T, config_.numHeads, D});
  k = k.view({B, T, config_.numKvHeads, D});
  v = v.view({B, T, config_.numKvHeads, D});
  if (config_.qkNormKind == QkNorm::PerHead) {
    q = rmsNorm(q, l.qNorm, config_.rmsNormEps, config_.normKind);
    k = rmsNorm(k, l.kNorm, config_.rmsNormEps, config_.normKind);
  }
  q = q.transpose(1, 2), k = k.transpose(1, 2), v = v.transpose(1, 2);
  if (angles.cos.defined()) {
    const at::ScalarType qType = q.scalar_type(), kType = k.scalar_type();
    q = applyRope(q, angles), k = applyRope(k, angles);
    if (config_.ropeInFloat32) q = q.to(qType), k = k.to(kType);  // OLMo 2: rotated in float32, cast back
  }
  if (cache) std::tie(k, v) = cache->write(l.index, k, v);

  const at::Tensor& mask = attentionMask.keys;
  const int64_t groups = config_.numHeads / config_.numKvHeads;
  const double scale = config_.attentionScale ? *config_.attentionScale : 1.0 / std::sqrt(static_cast<double>(D));
  at::Tensor out;
  if (config_.attnLogitSoftcapping > 0) {
    // Gemma 2's soft-capped scores: eager attention (eager_attention_forward), op for op.
    const double cap = config_.attnLogitSoftcapping;
    at::Tensor scores = at::matmul(q, repeatKv(k, groups).transpose(2, 3)) * scale;
    scores = at::tanh(scores / cap) * cap;
    const int64_t S = scores.size(-1);
    const at::Tensor allowed =
        mask.defined() ? mask : at::ones({T, S}, at::TensorOptions().dtype(at::kBool).device(x.device())).tril(S - T);
    // transformers adds finfo(dtype).min where a key is hidden: a query that may see no key (a left-padded
    // position) then attends to every key alike, and its logits (which the loss reads one token later) are those.
    scores = scores + at::where(allowed, at::zeros({}, scores.options()),
                                at::full({}, lowestOf(scores.scalar_type()), scores.options()));
    out = at::matmul(at::softmax(scores, -1, at::kFloat).to(q.scalar_type()), repeatKv(v, groups));
  } else {
    const std::optional<at::Tensor> attnMask = mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt;
    // SDPA's enable_gqa maps each query head to its KV head where repeat_kv copies the keys and values: generation
    // then reads the cache in place, and unmasked attention on the CPU keeps no expanded copies for the backward
    // (its flash kernel takes grouped heads both ways). transformers too passes enable_gqa there, and repeats
    // with a mask (use_gqa_in_sdpa); CUDA's float32 kernel (memory-efficient) has no grouped heads, so SDPA
    // would fall back to its math path, which keeps whole attention matrices.
    const bool gqa = cache != nullptr || (x.device().is_cpu() && !mask.defined());
    out = at::scaled_dot_product_attention(q, gqa ? k : repeatKv(k, groups), gqa ? v : repeatKv(v, groups), attnMask,
                                           /*dropout_p=*/0.0, /*is_causal=*/!mask.defined(), scale,
                                           /*enable_gqa=*/gqa);
    if (attentionMask.blind.defined()) out = out.masked_fill(attentionMask.blind, 0);
  }
  // (B, heads, T, D) -> (B, T, heads * D)
  return linear(out.transpose(1, 2).reshape({B, T, qDim}), l.o, train);
}

at::Tensor CausalLM::mlp(const Layer& l, const at::Tensor& x, bool train, std::vector<at::Tensor>* routerLogits) const {
  const Activation act = config_.activation;
  if (l.experts.router.defined()) {
    const at::Tensor input = l.mlpInNorm.defined() ? rmsNorm(x, l.mlpInNorm, config_.rmsNormEps, config_.normKind) : x;
    const bool adapted = adaptersEnabled_ && l.expertLora.any();
    return moeMlp(input, adapted ? withExpertLora(l.experts, l.expertLora) : l.experts, config_.moe, act, routerLogits);
  }
  if (config_.fusedProjections) {
    // Phi-3's gate_up_proj: the gate, then the up projection, in one output.
    const at::Tensor gateUp = project(x, l.mlpInNorm, {&l.gateUp}, train)[0];
    const int64_t I = config_.intermediateSize;
    return linear(gateUp.narrow(-1, I, I) * activate(gateUp.narrow(-1, 0, I), act), l.down, train);
  }
  const std::vector<at::Tensor> gateUp = project(x, l.mlpInNorm, {&l.gate, &l.up}, train);
  // With autograd recording a float32 SwiGLU without biases or active adapters, the function that saves less.
  const Projection* const parts[] = {&l.gate, &l.up, &l.down};
  const bool plain = std::none_of(std::begin(parts), std::end(parts), [&](const Projection* p) {
    return p->bias.defined() || (adaptersEnabled_ && p->lora.a.defined());
  });
  if (act == Activation::Silu && fusesNormedProjections(x) && plain)
    return swigluDown(gateUp[0], gateUp[1], l.down.weight);
  return linear(activate(gateUp[0], act) * gateUp[1], l.down, train);
}

at::Tensor CausalLM::decoderLayer(const Layer& l, const at::Tensor& x, const RopeAngles& angles,
                                  const AttentionMask& mask, bool train, KvCache* cache,
                                  std::vector<at::Tensor>* routerLogits) const {
  // Granite scales each block's output before adding it back; the post-norms (OLMo 2, Gemma) normalise it.
  auto residual = [&](const at::Tensor& stream, at::Tensor block, const at::Tensor& postNorm) {
    if (postNorm.defined()) block = rmsNorm(block, postNorm, config_.rmsNormEps, config_.normKind);
    return config_.residualMultiplier == 1.0 ? stream + block : stream + block * config_.residualMultiplier;
  };
  const at::Tensor h = residual(x, attention(l, x, angles, mask, train, cache), l.attnOutNorm);
  return residual(h, mlp(l, h, train, routerLogits), l.mlpOutNorm);
}

}  // namespace alignkit::models
