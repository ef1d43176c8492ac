#include "models/config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/json_error.h"

namespace alignkit::models {
namespace {

using json = nlohmann::json;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Reads config fields with the file's name in every error, and treats `null` as absent (transformers does).
struct Fields {
  const json& j;
  const std::string& where;

  bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }

  int64_t positiveInt(const char* key) const {
    if (!has(key)) throw invalidModel(where, std::string("missing required field '") + key + "'");
    if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
      throw invalidModel(where, std::string("'") + key + "' must be a positive integer, got " + j[key].dump());
    return j[key].get<int64_t>();
  }
  int64_t positiveInt(const char* key, int64_t fallback) const { return has(key) ? positiveInt(key) : fallback; }

  double number(const json& obj, const char* key, double fallback, const std::string& prefix = "") const {
    if (!obj.contains(key) || obj[key].is_null()) return fallback;
    if (!obj[key].is_number())
      throw invalidModel(where, "'" + prefix + key + "' must be a number, got " + obj[key].dump());
    return obj[key].get<double>();
  }
  double number(const char* key, double fallback) const { return number(j, key, fallback); }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_boolean()) throw invalidModel(where, std::string("'") + key + "' must be true or false");
    return j[key].get<bool>();
  }
};

// One RoPE settings object: `params` is rope_parameters (transformers >= 5; Gemma 3 one per layer type) or the hub's
// rope_scaling, `prefix` names it in errors; thetaKey/thetaFallback are the hub's top-level base.
RopeConfig parseRope(const Fields& f, const json& params, const std::string& prefix, const char* thetaKey,
                     double thetaFallback) {
  RopeConfig rope;
  if (!params.is_object()) throw invalidModel(f.where, prefix.substr(0, prefix.size() - 1) + " must be an object");
  rope.theta = f.number(params, "rope_theta", f.number(thetaKey, thetaFallback), prefix);
  // Older hub files spell the kind "type"; newer ones "rope_type".
  const char* typeKey = params.contains("rope_type") ? "rope_type" : "type";
  if (params.contains(typeKey) && !params[typeKey].is_null()) {
    if (!params[typeKey].is_string()) throw invalidModel(f.where, prefix + typeKey + " must be a string");
    rope.type = params[typeKey].get<std::string>();
  }
  rope.factor = f.number(params, "factor", rope.factor, prefix);
  rope.lowFreqFactor = f.number(params, "low_freq_factor", rope.lowFreqFactor, prefix);
  rope.highFreqFactor = f.number(params, "high_freq_factor", rope.highFreqFactor, prefix);
  rope.originalMaxPositions = static_cast<int64_t>(
      f.number(params, "original_max_position_embeddings", static_cast<double>(rope.originalMaxPositions), prefix));
  if (rope.type == "llama3" && rope.highFreqFactor <= rope.lowFreqFactor)
    throw invalidModel(f.where, prefix + "high_freq_factor must exceed low_freq_factor");
  return rope;
}

RopeConfig parseRope(const Fields& f, double thetaFallback) {
  // transformers >= 5 writes everything under rope_parameters; hub checkpoints split it in two.
  const bool modern = f.has("rope_parameters");
  const json& params = modern ? f.j["rope_parameters"] : (f.has("rope_scaling") ? f.j["rope_scaling"] : json::object());
  return parseRope(f, params, modern ? "rope_parameters." : "rope_scaling.", "rope_theta", thetaFallback);
}

std::vector<double> numberList(const Fields& f, const json& params, const char* key, const std::string& prefix,
                               size_t length) {
  if (!params.contains(key) || !params[key].is_array() || params[key].size() != length ||
      !std::all_of(params[key].begin(), params[key].end(), [](const json& v) { return v.is_number(); }))
    throw invalidModel(f.where, prefix + key + " must list " + std::to_string(length) + " numbers");
  return params[key].get<std::vector<double>>();
}

// Phi-3's RoPE (Phi3Config.convert_rope_params_to_dict, standardize_rope_params, _compute_longrope_parameters):
// partial rotary, and longrope's short/long factors with the switch at the top-level
// original_max_position_embeddings, which wins over the one in the RoPE dict.
void parsePhi3Rope(const Fields& f, ModelConfig& c) {
  const bool modern = f.has("rope_parameters");
  const json& params = modern ? f.j["rope_parameters"] : (f.has("rope_scaling") ? f.j["rope_scaling"] : json::object());
  const std::string prefix = modern ? "rope_parameters." : "rope_scaling.";
  c.rope = parseRope(f, params, prefix, "rope_theta", 10000.0);
  if (c.rope.type == "su" || c.rope.type == "yarn") c.rope.type = "longrope";
  c.rope.partialRotaryFactor =
      f.number(params, "partial_rotary_factor", f.number("partial_rotary_factor", 1.0), prefix);
  const int64_t rotary = static_cast<int64_t>(static_cast<double>(c.headDim) * c.rope.partialRotaryFactor);
  if (rotary <= 0 || rotary > c.headDim || rotary % 2 != 0)
    throw invalidModel(f.where, "partial_rotary_factor must leave an even, positive number of rotary features");
  if (c.rope.type != "longrope") return;
  const double maxPositions = f.number("max_position_embeddings", 4096);
  c.rope.originalMaxPositions = static_cast<int64_t>(f.number("original_max_position_embeddings", 4096));
  c.rope.shortFactor = numberList(f, params, "short_factor", prefix, static_cast<size_t>(rotary / 2));
  c.rope.longFactor = numberList(f, params, "long_factor", prefix, static_cast<size_t>(rotary / 2));
  const double factor =
      f.number(params, "factor", maxPositions / static_cast<double>(c.rope.originalMaxPositions), prefix);
  const double fallback =
      factor <= 1.0 ? 1.0
                    : std::sqrt(1 + std::log(factor) / std::log(static_cast<double>(c.rope.originalMaxPositions)));
  c.rope.attentionFactor = f.number(params, "attention_factor", fallback, prefix);
}

// Gemma 3's two RoPEs: rope_parameters.{full_attention, sliding_attention}, or the hub's rope_theta (+ rope_scaling)
// and rope_local_base_freq (Gemma3TextConfig.convert_rope_params_to_dict).
void parseGemma3Rope(const Fields& f, ModelConfig& c) {
  const json empty = json::object();
  if (f.has("rope_parameters") &&
      (f.j["rope_parameters"].contains("full_attention") || f.j["rope_parameters"].contains("sliding_attention"))) {
    const json& p = f.j["rope_parameters"];
    auto part = [&](const char* key) -> const json& { return p.contains(key) && !p[key].is_null() ? p[key] : empty; };
    c.rope = parseRope(f, part("full_attention"), "rope_parameters.full_attention.", "rope_theta", 1e6);
    c.slidingRope =
        parseRope(f, part("sliding_attention"), "rope_parameters.sliding_attention.", "rope_local_base_freq", 1e4);
    return;
  }
  c.rope = parseRope(f, 1e6);
  c.slidingRope = parseRope(f, empty, "rope_parameters.sliding_attention.", "rope_local_base_freq", 1e4);
}

void checkRopeType(const Fields& f, const RopeConfig& rope) {
  static const std::vector<std::string> kSupported = {"default", "linear", "llama3", "longrope"};
  if (std::find(kSupported.begin(), kSupported.end(), rope.type) == kSupported.end())
    throw invalidModel(f.where, "unsupported RoPE type '" + rope.type + "' (supported: " + joined(kSupported) + ")");
}

// Which layers use the sliding window when config.json has no layer_types.
enum class SlidingRule {
  None,              // Llama, Granite, OLMo 2
  AllLayers,         // Mistral, Phi-3: every layer when sliding_window is set
  MaxWindowLayers,   // Qwen2/3: use_sliding_window, from max_window_layers on
  NoRopeLayers,      // SmolLM3: use_sliding_window, on the NoPE layers
  UseSlidingWindow,  // Qwen3-MoE: every layer with use_sliding_window
  EveryOther,        // Gemma 2: layers 0, 2, 4, ... (the default layer_types)
  Pattern,           // Gemma 3: all but every sliding_window_pattern-th (default 6)
};

// How attention_bias / mlp_bias map to the projections' biases.
enum class BiasRule {
  AttentionAndMlp,  // q/k/v/o with attention_bias, the MLP with mlp_bias (Llama, Granite, SmolLM3)
  Attention,        // q/k/v/o with attention_bias (Mistral, Qwen3, OLMo 2, Gemma)
  QkvAlways,        // q/k/v always, o never (Qwen2)
  None,             // Phi-3
};

// What a model_type changes about the decoder, and the defaults of its config class for keys config.json may omit.
// A new family is a row here plus, when it needs one, a block causal_lm.cpp does not have yet.
struct Family {
  const char* modelType;
  BlockLayout layout;
  NormKind norm;
  QkNorm qkNorm;
  BiasRule bias;
  SlidingRule sliding;
  bool fusedProjections;
  const char* activationKey;  // hidden_act, or Gemma's hidden_activation
  const char* activationDefault;
  bool tieDefault;
  double epsDefault;
  int64_t headDimDefault;  // 0: hidden_size / num_attention_heads
  double thetaDefault;
  std::optional<int64_t> windowDefault;
};

const std::vector<Family>& families() {
  using B = BlockLayout;
  using N = NormKind;
  using Q = QkNorm;
  static const std::vector<Family> kFamilies = {
      {"llama", B::PreNorm, N::Llama, Q::None, BiasRule::AttentionAndMlp, SlidingRule::None, false, "hidden_act",
       "silu", false, 1e-6, 0, 10000.0, std::nullopt},
      {"mistral", B::PreNorm, N::Llama, Q::None, BiasRule::Attention, SlidingRule::AllLayers, false, "hidden_act",
       "silu", false, 1e-6, 0, 10000.0, std::nullopt},
      {"qwen2", B::PreNorm, N::Llama, Q::None, BiasRule::QkvAlways, SlidingRule::MaxWindowLayers, false, "hidden_act",
       "silu", false, 1e-6, 0, 10000.0, std::nullopt},
      {"qwen3", B::PreNorm, N::Llama, Q::PerHead, BiasRule::Attention, SlidingRule::MaxWindowLayers, false,
       "hidden_act", "silu", false, 1e-6, 0, 10000.0, std::nullopt},
      {"granite", B::PreNorm, N::Llama, Q::None, BiasRule::AttentionAndMlp, SlidingRule::None, false, "hidden_act",
       "silu", false, 1e-6, 0, 10000.0, std::nullopt},
      {"olmo2", B::PostNorm, N::Olmo, Q::Full, BiasRule::Attention, SlidingRule::None, false, "hidden_act", "silu",
       false, 1e-5, 0, 10000.0, std::nullopt},
      {"smollm3", B::PreNorm, N::Llama, Q::None, BiasRule::AttentionAndMlp, SlidingRule::NoRopeLayers, false,
       "hidden_act", "silu", true, 1e-6, 0, 2000000.0, std::nullopt},
      {"gemma2", B::Sandwich, N::Gemma, Q::None, BiasRule::Attention, SlidingRule::EveryOther, false,
       "hidden_activation", "gelu_pytorch_tanh", true, 1e-6, 256, 10000.0, 4096},
      {"gemma3_text", B::Sandwich, N::Gemma, Q::PerHead, BiasRule::Attention, SlidingRule::Pattern, false,
       "hidden_activation", "gelu_pytorch_tanh", true, 1e-6, 256, 1e6, 4096},
      {"phi3", B::PreNorm, N::Llama, Q::None, BiasRule::None, SlidingRule::AllLayers, true, "hidden_act", "silu", false,
       1e-5, 0, 10000.0, std::nullopt},
      {"mixtral", B::PreNorm, N::Llama, Q::None, BiasRule::None, SlidingRule::AllLayers, false, "hidden_act", "silu",
       false, 1e-5, 0, 1e6, std::nullopt},
      {"qwen3_moe", B::PreNorm, N::Llama, Q::PerHead, BiasRule::Attention, SlidingRule::UseSlidingWindow, false,
       "hidden_act", "silu", false, 1e-6, 0, 10000.0, std::nullopt},
      {"olmoe", B::PreNorm, N::Llama, Q::Full, BiasRule::Attention, SlidingRule::None, false, "hidden_act", "silu",
       false, 1e-5, 0, 10000.0, std::nullopt},
  };
  return kFamilies;
}

const Family* findFamily(const std::string& modelType) {
  for (const Family& family : families())
    if (modelType == family.modelType) return &family;
  return nullptr;
}

// SmolLM3's no_rope_layers (1 = RoPE, 0 = NoPE), or every no_rope_layer_interval-th layer NoPE.
void parseRopeLayers(const Fields& f, ModelConfig& c) {
  c.ropeLayers.assign(c.numLayers, true);
  if (c.modelType != "smollm3") return;
  if (!f.has("no_rope_layers")) {
    const int64_t interval = f.positiveInt("no_rope_layer_interval", 4);
    for (int64_t i = 0; i < c.numLayers; ++i) c.ropeLayers[i] = (i + 1) % interval != 0;
    return;
  }
  const json& flags = f.j["no_rope_layers"];
  if (!flags.is_array() || static_cast<int64_t>(flags.size()) != c.numLayers ||
      !std::all_of(flags.begin(), flags.end(), [](const json& v) { return v.is_number_integer(); }))
    throw invalidModel(f.where,
                       "'no_rope_layers' must list one integer per layer (" + std::to_string(c.numLayers) + ")");
  for (int64_t i = 0; i < c.numLayers; ++i) c.ropeLayers[i] = flags[i].get<int64_t>() != 0;
}

// Which layers use the sliding window: `layer_types` when present, else each family's rule.
void parseSlidingWindow(const Fields& f, const Family& family, ModelConfig& c) {
  c.slidingLayers.assign(c.numLayers, false);
  std::optional<int64_t> window = family.windowDefault;
  if (f.has("sliding_window"))
    window = f.positiveInt("sliding_window");
  else if (f.j.contains("sliding_window"))
    window.reset();  // an explicit null

  if (f.has("layer_types")) {
    const json& types = f.j["layer_types"];
    if (!types.is_array() || static_cast<int64_t>(types.size()) != c.numLayers)
      throw invalidModel(f.where, "'layer_types' must list one entry per layer (" + std::to_string(c.numLayers) + ")");
    for (int64_t i = 0; i < c.numLayers; ++i) {
      const std::string t = types[i].is_string() ? types[i].get<std::string>() : "";
      if (t != "full_attention" && t != "sliding_attention")
        throw invalidModel(f.where, "layer_types[" + std::to_string(i) +
                                        "] must be 'full_attention' or 'sliding_attention', got " + types[i].dump());
      c.slidingLayers[i] = t == "sliding_attention" && window.has_value();
    }
  } else {
    for (int64_t i = 0; i < c.numLayers; ++i) switch (family.sliding) {
        case SlidingRule::None:
          break;
        case SlidingRule::AllLayers:
          c.slidingLayers[i] = window.has_value();
          break;
        case SlidingRule::MaxWindowLayers:
          c.slidingLayers[i] = f.boolean("use_sliding_window", false) && window.has_value() &&
                               i >= f.positiveInt("max_window_layers", c.numLayers);
          break;
        case SlidingRule::UseSlidingWindow:
          c.slidingLayers[i] = f.boolean("use_sliding_window", false) && window.has_value();
          break;
        case SlidingRule::NoRopeLayers:
          c.slidingLayers[i] = f.boolean("use_sliding_window", false) && window.has_value() && !c.ropeLayers[i];
          break;
        case SlidingRule::EveryOther:
          c.slidingLayers[i] = window.has_value() && (i + 1) % 2 != 0;
          break;
        case SlidingRule::Pattern:
          c.slidingLayers[i] = window.has_value() && (i + 1) % f.positiveInt("sliding_window_pattern", 6) != 0;
          break;
      }
  }
  if (std::find(c.slidingLayers.begin(), c.slidingLayers.end(), true) != c.slidingLayers.end())
    c.slidingWindow = window;
}

Activation parseActivation(const Fields& f, const Family& family) {
  const std::string name = f.has(family.activationKey) && f.j[family.activationKey].is_string()
                               ? f.j[family.activationKey].get<std::string>()
                               : std::string(f.has(family.activationKey) ? "" : family.activationDefault);
  if (name == "silu") return Activation::Silu;
  if (name == "gelu_pytorch_tanh") return Activation::GeluTanh;
  throw invalidModel(f.where, std::string("unsupported ") + family.activationKey + " " +
                                  f.j[family.activationKey].dump() + " (supported: silu, gelu_pytorch_tanh)");
}

// A float option that may be null: 0 (off) when null, else a positive number.
double optionalPositive(const Fields& f, const char* key, double fallback) {
  if (f.j.contains(key) && f.j[key].is_null()) return 0.0;
  const double value = f.number(key, fallback);
  if (!(value > 0)) throw invalidModel(f.where, std::string("'") + key + "' must be a positive number or null");
  return value;
}

// The switches of Granite's multipliers and Gemma's scales and soft-caps.
void parseScales(const Fields& f, ModelConfig& c) {
  if (c.modelType == "granite") {
    c.embeddingMultiplier = f.number("embedding_multiplier", 1.0);
    c.residualMultiplier = f.number("residual_multiplier", 1.0);
    c.attentionScale = f.number("attention_multiplier", 1.0);
    c.logitsScaling = f.number("logits_scaling", 1.0);
    if (c.logitsScaling == 0) throw invalidModel(f.where, "'logits_scaling' must not be 0 (logits are divided by it)");
  }
  if (c.layout == BlockLayout::Sandwich) {  // Gemma 2 / 3
    if (f.boolean("use_bidirectional_attention", false))
      throw invalidModel(f.where, "use_bidirectional_attention is not supported (alignkit trains causal models)");
    c.embeddingMultiplier = std::pow(static_cast<double>(c.hiddenSize), 0.5);
    c.roundEmbeddingMultiplier = true;
    c.attentionScale = std::pow(f.number("query_pre_attn_scalar", 256), -0.5);
    const bool gemma2 = c.modelType == "gemma2";
    // Gemma 3's attention never passes its attn_logit_softcapping on (modeling_gemma3.py): only Gemma 2 caps scores.
    if (gemma2) c.attnLogitSoftcapping = optionalPositive(f, "attn_logit_softcapping", 50.0);
    c.finalLogitSoftcapping = optionalPositive(f, "final_logit_softcapping", gemma2 ? 30.0 : 0.0);
  }
}

// Mixtral's, Qwen3-MoE's and OLMoE's experts (MixtralConfig, Qwen3MoeConfig, OlmoeConfig): the sizes, the router's
// top-k, and which layers hold a MoE block (Qwen3-MoE: those not in mlp_only_layers, every decoder_sparse_step-th).
void parseMoe(const Fields& f, ModelConfig& c) {
  c.moeLayers.assign(c.numLayers, false);
  const bool mixtral = c.modelType == "mixtral", olmoe = c.modelType == "olmoe";
  if (!mixtral && !olmoe && c.modelType != "qwen3_moe") return;
  MoeConfig& m = c.moe;
  // The configs alias num_experts and num_local_experts (attribute_map): save_pretrained writes Mixtral's and
  // Qwen3-MoE's as num_local_experts, OLMoE's as num_experts.
  m.numExperts = f.has("num_local_experts") ? f.positiveInt("num_local_experts")
                                            : f.positiveInt("num_experts", mixtral ? 8
                                                                           : olmoe ? 64
                                                                                   : 128);
  m.topK = f.positiveInt("num_experts_per_tok", mixtral ? 2 : 8);
  if (m.topK > m.numExperts)
    throw invalidModel(f.where, "num_experts_per_tok (" + std::to_string(m.topK) + ") exceeds the number of experts (" +
                                    std::to_string(m.numExperts) + ")");
  m.intermediateSize = mixtral || olmoe ? c.intermediateSize : f.positiveInt("moe_intermediate_size", 768);
  m.normTopkProb = mixtral || f.boolean("norm_topk_prob", false);
  m.weightsInModelDtype = !mixtral;
  m.routerAuxLossCoef = f.number("router_aux_loss_coef", olmoe ? 0.01 : 0.001);
  m.outputRouterLogits = f.boolean("output_router_logits", false);
  if (f.number("router_jitter_noise", 0.0) != 0.0)
    throw invalidModel(f.where, "router_jitter_noise " + f.j["router_jitter_noise"].dump() +
                                    " is not supported (expected 0: alignkit does not draw Mixtral's router jitter)");
  if (olmoe && f.has("clip_qkv"))
    throw invalidModel(f.where, "clip_qkv " + f.j["clip_qkv"].dump() +
                                    " is not supported (expected null: alignkit does not clamp OLMoE's q/k/v)");
  m.block = mixtral ? "block_sparse_moe" : "mlp";
  m.gateName = mixtral ? "w1" : "gate_proj";
  m.upName = mixtral ? "w3" : "up_proj";
  m.downName = mixtral ? "w2" : "down_proj";
  if (mixtral || olmoe) {
    c.moeLayers.assign(c.numLayers, true);
    return;
  }
  std::vector<bool> dense(c.numLayers, false);
  if (f.has("mlp_only_layers")) {
    const json& layers = f.j["mlp_only_layers"];
    if (!layers.is_array() ||
        !std::all_of(layers.begin(), layers.end(), [](const json& v) { return v.is_number_integer(); }))
      throw invalidModel(f.where, "'mlp_only_layers' must list layer indices");
    for (const json& v : layers) {
      const int64_t i = v.get<int64_t>();
      if (i >= 0 && i < c.numLayers) dense[i] = true;
    }
  }
  const int64_t step = f.positiveInt("decoder_sparse_step", 1);
  for (int64_t i = 0; i < c.numLayers; ++i) c.moeLayers[i] = !dense[i] && (i + 1) % step == 0;
}

// transformers' PretrainedConfig.num_labels: the size of id2label (2 when absent); 0 unless `architectures` names a
// *ForSequenceClassification class.
int64_t sequenceClassificationLabels(const Fields& f) {
  const json& j = f.j;
  if (!f.has("architectures") || !j["architectures"].is_array()) return 0;
  const std::string suffix = "ForSequenceClassification";
  const bool classifier = std::any_of(j["architectures"].begin(), j["architectures"].end(), [&](const json& a) {
    const std::string name = a.is_string() ? a.get<std::string>() : "";
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
  if (!classifier) return 0;
  if (f.has("id2label") && j["id2label"].is_object() && !j["id2label"].empty())
    return static_cast<int64_t>(j["id2label"].size());
  return f.positiveInt("num_labels", 2);
}

}  // namespace

const std::vector<std::string>& supportedModelTypes() {
  static const std::vector<std::string> kTypes = [] {
    std::vector<std::string> out;
    for (const Family& family : families()) out.push_back(family.modelType);
    return out;
  }();
  return kTypes;
}

ModelConfig ModelConfig::parse(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw invalidModel(where, io::notValidJson(e.byte));
  }
  if (!j.is_object()) throw invalidModel(where, "not a JSON object");
  const Fields f{j, where};

  ModelConfig c;
  c.sourceJson = text;
  if (!j.contains("model_type") || !j["model_type"].is_string())
    throw invalidModel(where, "missing string field 'model_type' (supported: " + joined(supportedModelTypes()) + ")");
  c.modelType = j["model_type"].get<std::string>();
  const Family* family = findFamily(c.modelType);
  if (!family) {
    const std::string hint = c.modelType == "gemma3" ? " (a Gemma 3 text model is model_type gemma3_text; the "
                                                       "multimodal gemma3 checkpoints are not supported)"
                                                     : "";
    throw invalidModel(where, "unsupported model_type '" + c.modelType +
                                  "' (supported: " + joined(supportedModelTypes()) + ")" + hint);
  }
  c.layout = family->layout;
  c.normKind = family->norm;
  c.qkNormKind = family->qkNorm;
  c.fusedProjections = family->fusedProjections;
  c.ropeInFloat32 = c.modelType == "olmo2";  // modeling_olmo2's rotary embedding returns float32 cos/sin
  c.activation = parseActivation(f, *family);

  c.vocabSize = f.positiveInt("vocab_size");
  c.hiddenSize = f.positiveInt("hidden_size");
  c.intermediateSize = f.positiveInt("intermediate_size");
  c.numLayers = f.positiveInt("num_hidden_layers");
  c.numHeads = f.positiveInt("num_attention_heads");
  c.numKvHeads = f.positiveInt("num_key_value_heads", c.numHeads);
  if (c.numHeads % c.numKvHeads != 0)
    throw invalidModel(where, "num_attention_heads (" + std::to_string(c.numHeads) +
                                  ") must be a multiple of num_key_value_heads (" + std::to_string(c.numKvHeads) + ")");
  if (!f.has("head_dim") && family->headDimDefault == 0 && c.hiddenSize % c.numHeads != 0)
    throw invalidModel(where, "hidden_size must be a multiple of num_attention_heads when head_dim is not given");
  c.headDim = f.positiveInt("head_dim", family->headDimDefault ? family->headDimDefault : c.hiddenSize / c.numHeads);
  if (c.headDim % 2 != 0) throw invalidModel(where, "head_dim must be even for RoPE");

  c.rmsNormEps = f.number("rms_norm_eps", family->epsDefault);
  c.tieWordEmbeddings = f.boolean("tie_word_embeddings", family->tieDefault);
  c.numLabels = sequenceClassificationLabels(f);
  const bool attentionBias = f.boolean("attention_bias", false);
  c.qkvBias = family->bias == BiasRule::QkvAlways || (family->bias != BiasRule::None && attentionBias);
  c.outputBias = (family->bias == BiasRule::AttentionAndMlp || family->bias == BiasRule::Attention) && attentionBias;
  c.mlpBias = family->bias == BiasRule::AttentionAndMlp && f.boolean("mlp_bias", false);
  if (c.modelType == "phi3")
    parsePhi3Rope(f, c);
  else if (c.modelType == "gemma3_text")
    parseGemma3Rope(f, c);
  else
    c.rope = parseRope(f, family->thetaDefault);
  for (const RopeConfig* rope : {&c.rope, c.slidingRope ? &*c.slidingRope : nullptr})
    if (rope) {
      checkRopeType(f, *rope);
      if (rope->type == "longrope" && rope->shortFactor.empty())
        throw invalidModel(where, "RoPE type 'longrope' is supported for model_type phi3 only");
    }
  // Every family's embedding is nn.Embedding(vocab, hidden, padding_idx=pad_token_id).
  if (f.has("pad_token_id") && j["pad_token_id"].is_number_integer()) {
    const int64_t pad = j["pad_token_id"].get<int64_t>();
    if (pad >= 0 && pad < c.vocabSize) c.padTokenId = pad;
  }
  parseRopeLayers(f, c);
  parseSlidingWindow(f, *family, c);
  parseScales(f, c);
  parseMoe(f, c);

  for (const char* key : {"dtype", "torch_dtype"})
    if (f.has(key) && j[key].is_string()) {
      c.dtype = j[key].get<std::string>();
      break;
    }
  return c;
}

}  // namespace alignkit::models
