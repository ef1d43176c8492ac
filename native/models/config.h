// The architecture settings of a decoder-only checkpoint, read from its config.json. One struct covers the
// families alignkit runs (Llama 1/2/3, Mistral, Qwen2, Qwen3, Granite, OLMo 2, SmolLM3, Gemma 2, Gemma 3 text,
// Phi-3, and the Mixture-of-Experts Mixtral and Qwen3-MoE): they differ only in the switches below, which
// config.cpp's family table sets per model_type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace alignkit::models {

// RoPE frequency settings, from `rope_parameters` (transformers >= 5) or `rope_theta` + `rope_scaling` (hub).
struct RopeConfig {
  std::string type = "default";  // default | linear | llama3 | longrope
  double theta = 10000.0;
  double factor = 1.0;                          // linear, llama3
  double lowFreqFactor = 1.0;                   // llama3
  double highFreqFactor = 4.0;                  // llama3
  int64_t originalMaxPositions = 8192;          // llama3, longrope (the short/long switch)
  double partialRotaryFactor = 1.0;             // Phi-3/4: RoPE rotates the first int(headDim * factor) features only
  std::vector<double> shortFactor, longFactor;  // longrope: per-frequency divisors below / past the switch
  double attentionFactor = 1.0;                 // longrope: cos and sin are multiplied by it
};

// Where a decoder layer normalises its stream (the norms' Hugging Face names in brackets):
// PreNorm   x + attn(norm(x)), then + mlp(norm(.))            [input_layernorm, post_attention_layernorm] Llama
// PostNorm  x + norm(attn(x)), then + norm(mlp(.))            [post_attention_layernorm, post_feedforward_layernorm]
// Sandwich  x + norm(attn(norm(x))), then + norm(mlp(norm(.))) [input_, post_attention_, pre_feedforward_,
//           post_feedforward_layernorm] Gemma 2/3
enum class BlockLayout { PreNorm, PostNorm, Sandwich };

// How an RMSNorm applies its weight: Llama's weight * normed.to(dtype); OLMo 2's (weight * normed).to(dtype);
// Gemma's (normed * (1 + weight)).to(dtype), the weight stored as an offset from 1. Equal in float32 but Gemma's.
enum class NormKind { Llama, Olmo, Gemma };

// Qwen3 / Gemma 3 normalise each head of q and k (weight headDim); OLMo 2 the whole projection (weight heads·headDim).
enum class QkNorm { None, PerHead, Full };

enum class Activation { Silu, GeluTanh };  // hidden_act silu; gelu_pytorch_tanh (Gemma's GeGLU)

// A Mixture-of-Experts MLP (models/moe.h): a linear router picks top-k of numExperts SwiGLU experts per token.
// Parameters keep the hub checkpoint's names, which transformers 5.18's save_pretrained writes too:
// <block>.gate.weight (experts, hidden) and <block>.experts.N.<gate|up|down>.weight.
struct MoeConfig {
  int64_t numExperts = 0;        // num_local_experts (Qwen3-MoE's hub spelling: num_experts); 0 = a dense model
  int64_t topK = 0;              // num_experts_per_tok
  int64_t intermediateSize = 0;  // of each expert: Mixtral's intermediate_size, Qwen3-MoE's moe_intermediate_size
  bool normTopkProb = true;      // the top-k probabilities renormalised to sum 1 (Mixtral always; Qwen3-MoE's flag)
  // Qwen3-MoE casts the routing weights to the model's dtype before scaling an expert's output; Mixtral scales in
  // float32 and casts the product.
  bool weightsInModelDtype = false;
  double routerAuxLossCoef = 0.001;  // config.json's router_aux_loss_coef (TRL's own router_aux_loss_coef wins)
  // config.json's output_router_logits: the model's own loss with labels (train/causal_lm_loss.h, transformers'
  // forward) then adds routerAuxLossCoef × the load-balancing loss. The trainers follow TRL's key instead.
  bool outputRouterLogits = false;
  std::string block;                       // module under the layer: block_sparse_moe (Mixtral) | mlp (Qwen3-MoE)
  std::string gateName, upName, downName;  // each expert's projections: w1, w3, w2 | gate_proj, up_proj, down_proj
};

struct ModelConfig {
  std::string modelType;  // a row of config.cpp's family table: llama, gemma2, phi3, ...
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  double rmsNormEps = 1e-6;
  bool tieWordEmbeddings = false;
  double logitsScaling = 1.0;          // Granite's logits_scaling: logits are divided by it
  double finalLogitSoftcapping = 0.0;  // Gemma 2/3's final_logit_softcapping (0 = none): c * tanh(z / c)
  // > 0 for a *ForSequenceClassification checkpoint (a reward model): its head is score.weight (numLabels, hidden)
  // in place of lm_head, so logits are (B, T, numLabels).
  int64_t numLabels = 0;
  bool qkvBias = false;                  // bias on q/k/v projections (Qwen2 always; Llama/Qwen3 with attention_bias)
  bool outputBias = false;               // bias on o_proj (Llama/Qwen3 with attention_bias)
  bool mlpBias = false;                  // Llama's mlp_bias
  std::optional<int64_t> slidingWindow;  // keys within this many positions, on layers marked below
  std::vector<bool> slidingLayers;       // per layer: does the sliding window apply
  RopeConfig rope;
  // Family switches (config.cpp's table): the defaults are Llama's.
  BlockLayout layout = BlockLayout::PreNorm;
  NormKind normKind = NormKind::Llama;
  QkNorm qkNormKind = QkNorm::None;
  Activation activation = Activation::Silu;
  bool fusedProjections = false;          // Phi-3: self_attn.qkv_proj and mlp.gate_up_proj (gate first)
  double embeddingMultiplier = 1.0;       // Granite's embedding_multiplier; Gemma's √hidden
  bool roundEmbeddingMultiplier = false;  // Gemma: the multiplier is cast to the embeddings' dtype first
  double residualMultiplier = 1.0;        // Granite: x + block(x) * residual_multiplier
  std::optional<double> attentionScale;   // Granite's attention_multiplier, Gemma's query_pre_attn_scalar^-0.5
  double attnLogitSoftcapping = 0.0;      // Gemma 2: scores = c * tanh(scores / c) before the mask (0 = none)
  std::vector<bool> ropeLayers;           // per layer: is RoPE applied (SmolLM3's no_rope_layers hold 0 for NoPE)
  bool ropeInFloat32 = false;             // OLMo 2: cos/sin stay float32, the rotated q/k are cast back
  std::optional<RopeConfig> slidingRope;  // Gemma 3: the RoPE of sliding-window layers (rope_local_base_freq)
  // pad_token_id: nn.Embedding's padding_idx, whose row gets no gradient from the embedding lookup.
  std::optional<int64_t> padTokenId;
  MoeConfig moe;
  std::vector<bool> moeLayers;    // per layer: a MoE block in place of the dense MLP (Qwen3-MoE's mlp_only_layers)
  std::string dtype = "float32";  // torch_dtype / dtype as saved, e.g. "bfloat16"
  std::string sourceJson;         // the original config.json text, rewritten on save

  // Parses config.json text; `where` names the file in errors.
  static ModelConfig parse(const std::string& text, const std::string& where);
};

// The model_type values accepted by ModelConfig::parse, for error messages and `info`.
const std::vector<std::string>& supportedModelTypes();

}  // namespace alignkit::models
