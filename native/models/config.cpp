#include "models/config.h"

#include <algorithm>
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

RopeConfig parseRope(const Fields& f) {
  RopeConfig rope;
  // transformers >= 5 writes everything under rope_parameters; hub checkpoints split it in two.
  const bool modern = f.has("rope_parameters");
  const json& params = modern ? f.j["rope_parameters"] : (f.has("rope_scaling") ? f.j["rope_scaling"] : json::object());
  const std::string prefix = modern ? "rope_parameters." : "rope_scaling.";
  if (!params.is_object()) throw invalidModel(f.where, prefix.substr(0, prefix.size() - 1) + " must be an object");

  rope.theta = modern ? f.number(params, "rope_theta", f.number("rope_theta", rope.theta), prefix)
                      : f.number("rope_theta", rope.theta);
  // Older hub files spell the kind "type"; newer ones "rope_type".
  const char* typeKey = params.contains("rope_type") ? "rope_type" : "type";
  if (params.contains(typeKey) && !params[typeKey].is_null()) {
    if (!params[typeKey].is_string()) throw invalidModel(f.where, prefix + typeKey + " must be a string");
    rope.type = params[typeKey].get<std::string>();
  }
  static const std::vector<std::string> kSupported = {"default", "linear", "llama3"};
  if (std::find(kSupported.begin(), kSupported.end(), rope.type) == kSupported.end())
    throw invalidModel(f.where, "unsupported RoPE type '" + rope.type + "' (supported: " + joined(kSupported) + ")");

  rope.factor = f.number(params, "factor", rope.factor, prefix);
  rope.lowFreqFactor = f.number(params, "low_freq_factor", rope.lowFreqFactor, prefix);
  rope.highFreqFactor = f.number(params, "high_freq_factor", rope.highFreqFactor, prefix);
  rope.originalMaxPositions = static_cast<int64_t>(
      f.number(params, "original_max_position_embeddings", static_cast<double>(rope.originalMaxPositions), prefix));
  if (rope.type == "llama3" && rope.highFreqFactor <= rope.lowFreqFactor)
    throw invalidModel(f.where, prefix + "high_freq_factor must exceed low_freq_factor");
  return rope;
}

// Which layers use the sliding window: `layer_types` when present, else each family's rule.
void parseSlidingWindow(const Fields& f, ModelConfig& c) {
  c.slidingLayers.assign(c.numLayers, false);
  std::optional<int64_t> window;
  if (f.has("sliding_window")) window = f.positiveInt("sliding_window");

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
  } else if (c.modelType == "mistral") {
    c.slidingLayers.assign(c.numLayers, window.has_value());
  } else if (c.modelType == "qwen2" || c.modelType == "qwen3") {
    if (f.boolean("use_sliding_window", false) && window) {
      const int64_t first = f.positiveInt("max_window_layers", c.numLayers);
      for (int64_t i = first; i < c.numLayers; ++i) c.slidingLayers[i] = true;
    }
  }
  if (std::find(c.slidingLayers.begin(), c.slidingLayers.end(), true) != c.slidingLayers.end())
    c.slidingWindow = window;
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
  static const std::vector<std::string> kTypes = {"llama", "mistral", "qwen2", "qwen3"};
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
  const auto& types = supportedModelTypes();
  if (std::find(types.begin(), types.end(), c.modelType) == types.end())
    throw invalidModel(where, "unsupported model_type '" + c.modelType + "' (supported: " + joined(types) + ")");

  if (f.has("hidden_act") && j["hidden_act"] != "silu")
    throw invalidModel(where, "unsupported hidden_act " + j["hidden_act"].dump() + " (supported: silu)");

  c.vocabSize = f.positiveInt("vocab_size");
  c.hiddenSize = f.positiveInt("hidden_size");
  c.intermediateSize = f.positiveInt("intermediate_size");
  c.numLayers = f.positiveInt("num_hidden_layers");
  c.numHeads = f.positiveInt("num_attention_heads");
  c.numKvHeads = f.positiveInt("num_key_value_heads", c.numHeads);
  if (c.numHeads % c.numKvHeads != 0)
    throw invalidModel(where, "num_attention_heads (" + std::to_string(c.numHeads) +
                                  ") must be a multiple of num_key_value_heads (" + std::to_string(c.numKvHeads) + ")");
  if (!f.has("head_dim") && c.hiddenSize % c.numHeads != 0)
    throw invalidModel(where, "hidden_size must be a multiple of num_attention_heads when head_dim is not given");
  c.headDim = f.positiveInt("head_dim", c.hiddenSize / c.numHeads);
  if (c.headDim % 2 != 0) throw invalidModel(where, "head_dim must be even for RoPE");

  c.rmsNormEps = f.number("rms_norm_eps", c.rmsNormEps);
  c.tieWordEmbeddings = f.boolean("tie_word_embeddings", false);
  c.numLabels = sequenceClassificationLabels(f);
  const bool attentionBias = f.boolean("attention_bias", false);
  c.qkvBias = c.modelType == "qwen2" || attentionBias;
  c.outputBias = c.modelType != "qwen2" && attentionBias;
  c.mlpBias = c.modelType == "llama" && f.boolean("mlp_bias", false);
  c.qkNorm = c.modelType == "qwen3";
  c.rope = parseRope(f);
  parseSlidingWindow(f, c);

  for (const char* key : {"dtype", "torch_dtype"})
    if (f.has(key) && j[key].is_string()) {
      c.dtype = j[key].get<std::string>();
      break;
    }
  return c;
}

}  // namespace alignkit::models
