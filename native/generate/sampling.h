// How the next token is chosen from a step's logits, as transformers' GenerationMixin._sample does it: argmax, or
// one draw after the sampling warpers of generation/logits_process.py, in the order generate() builds them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace alignkit::generate {

// GenerationConfig's sampling fields; the defaults are the values that turn each warper off.
struct SamplingOptions {
  bool doSample = false;
  double temperature = 1.0;  // TemperatureLogitsWarper unless 1; > 0
  int64_t topK = 0;          // TopKLogitsWarper unless 0; keeps the k highest scores and their ties
  double topP = 1.0;         // TopPLogitsWarper unless 1; in [0, 1]
};

// Throws invalidArgument naming the field whose value transformers' warpers would refuse.
void checkSamplingOptions(const SamplingOptions& options);

// scores (B, vocab) float32 -> TemperatureLogitsWarper -> TopKLogitsWarper -> TopPLogitsWarper, filtered entries
// -inf, min_tokens_to_keep = 1 (no beams). The warpers apply whatever doSample says; the caller decides.
at::Tensor warpLogits(const at::Tensor& scores, const SamplingOptions& options);

// (B) int64: argmax of logits (B, vocab) float32 without doSample, else torch.multinomial(softmax(warpLogits(logits)),
// 1) drawn from `generator`.
at::Tensor nextTokens(const at::Tensor& logits, const SamplingOptions& options, at::Generator& generator);

}  // namespace alignkit::generate
