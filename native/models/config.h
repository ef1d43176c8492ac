// The architecture settings of a decoder-only checkpoint, read from its config.json. One struct covers the
// families alignkit runs (Llama 1/2/3, Mistral, Qwen2, Qwen3): they differ only in the switches below.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace alignkit::models {

// RoPE frequency settings, from `rope_parameters` (transformers >= 5) or `rope_theta` + `rope_scaling` (hub).
struct RopeConfig {
  std::string type = "default";  // default | linear | llama3
  double theta = 10000.0;
  double factor = 1.0;                  // linear, llama3
  double lowFreqFactor = 1.0;           // llama3
  double highFreqFactor = 4.0;          // llama3
  int64_t originalMaxPositions = 8192;  // llama3
};

struct ModelConfig {
  std::string modelType;  // llama | mistral | qwen2 | qwen3
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  double rmsNormEps = 1e-6;
  bool tieWordEmbeddings = false;
  // > 0 for a *ForSequenceClassification checkpoint (a reward model): its head is score.weight (numLabels, hidden)
  // in place of lm_head, so logits are (B, T, numLabels).
  int64_t numLabels = 0;
  bool qkvBias = false;                  // bias on q/k/v projections (Qwen2 always; Llama/Qwen3 with attention_bias)
  bool outputBias = false;               // bias on o_proj (Llama/Qwen3 with attention_bias)
  bool mlpBias = false;                  // Llama's mlp_bias
  bool qkNorm = false;                   // Qwen3's per-head RMSNorm of queries and keys
  std::optional<int64_t> slidingWindow;  // keys within this many positions, on layers marked below
  std::vector<bool> slidingLayers;       // per layer: does the sliding window apply
  RopeConfig rope;
  std::string dtype = "float32";  // torch_dtype / dtype as saved, e.g. "bfloat16"
  std::string sourceJson;         // the original config.json text, rewritten on save

  // Parses config.json text; `where` names the file in errors.
  static ModelConfig parse(const std::string& text, const std::string& where);
};

// The model_type values accepted by ModelConfig::parse, for error messages and `info`.
const std::vector<std::string>& supportedModelTypes();

}  // namespace alignkit::models
