// One batch of prompts being continued, as transformers' GenerationMixin._sample does it: prefill the left-padded
// prompts, then per step choose each row's token from the last logits (generate/sampling.h), put the pad token in
// rows that already finished, finish rows whose token is an EOS id, and run the new tokens through the model with
// the KV cache unless generation is over. Steps come in chunks so the caller can finish rows in between (stop
// strings, which need the tokenizer) or give up.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "generate/sampling.h"
#include "models/causal_lm.h"
#include "models/kv_cache.h"

namespace alignkit::generate {

struct GenerationOptions {
  SamplingOptions sampling;
  int64_t maxNewTokens = 1;
  std::vector<int64_t> eosTokenIds;  // none: only maxNewTokens ends a row
  int64_t padTokenId = 0;            // what finished rows get
  uint64_t seed = 0;                 // of the generator the samples are drawn from
  bool outputLogits = false;         // return the raw logits each token was chosen from
};

// What one step() call added.
struct GenerationChunk {
  at::Tensor tokens;  // (B, n) int32 on the CPU: each row's next n tokens (padTokenId once the row finished)
  at::Tensor logits;  // (n, B, vocab) float32 on the CPU with outputLogits, else undefined
  bool done = false;  // every row finished or maxNewTokens reached: later calls add nothing
};

class Generation {
 public:
  // inputIds and attentionMask (B, T): the prompts, left padded (attentionMask undefined: none is). Runs the
  // prefill under inference mode.
  Generation(const models::CausalLM& model, const at::Tensor& inputIds, const at::Tensor& attentionMask,
             GenerationOptions options);

  // Finishes `stopRows` first (their text met a stop string), then adds up to maxSteps tokens to every row.
  // The KV cache is freed as soon as generation is done.
  GenerationChunk step(const models::CausalLM& model, int64_t maxSteps, const std::vector<int64_t>& stopRows);

 private:
  GenerationOptions options_;
  std::optional<models::KvCache> cache_;
  at::Generator generator_;
  at::Tensor eos_;         // (E) int64 on the model's device
  at::Tensor unfinished_;  // (B) bool on the model's device
  at::Tensor logits_;      // (B, vocab) float32: what the next token is chosen from
  int64_t produced_ = 0;
  bool done_ = false;
};

}  // namespace alignkit::generate
