#include "generate/generation.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "common/error.h"
#include "ops/logits_transform.h"

namespace alignkit::generate {
namespace {

// New positions the KV cache holds before it first grows.
constexpr int64_t kInitialRoom = 128;

// The last position's logits, in float32 as generate() takes them (it only runs the lm_head there too), after
// the family's final-logit transform in the model's dtype, as its forward applies it.
at::Tensor lastLogits(const models::CausalLM& model, const at::Tensor& hidden) {
  const ops::LogitsTransform transform{model.config().logitsScaling, model.config().finalLogitSoftcapping};
  return ops::applyLogitsTransform(at::linear(hidden.select(1, -1), model.lmHeadWeight()), transform).to(at::kFloat);
}

// A generator of the model's device seeded like torch.manual_seed(seed), whatever that device is.
at::Generator seededGenerator(at::Device device, uint64_t seed) {
  at::Generator base = at::globalContext().defaultGenerator(device);
  at::Generator generator;
  {
    std::lock_guard<std::mutex> lock(base.mutex());
    generator = base.clone();
  }
  generator.set_current_seed(seed);
  return generator;
}

void checkTokenId(int64_t id, int64_t vocab, const char* field) {
  if (id < 0 || id >= vocab)
    throw invalidArgument(std::string(field) + " " + std::to_string(id) + " is outside the vocabulary [0, " +
                          std::to_string(vocab) + ")");
}

}  // namespace

Generation::Generation(const models::CausalLM& model, const at::Tensor& inputIds, const at::Tensor& attentionMask,
                       GenerationOptions options)
    : options_(std::move(options)) {
  if (options_.sampling.doSample) checkSamplingOptions(options_.sampling);  // transformers ignores them otherwise
  if (options_.maxNewTokens < 1)
    throw invalidArgument("max_new_tokens must be >= 1, got " + std::to_string(options_.maxNewTokens));
  const int64_t vocab = model.config().vocabSize;
  for (int64_t id : options_.eosTokenIds) checkTokenId(id, vocab, "eos_token_id");
  checkTokenId(options_.padTokenId, vocab, "pad_token_id");
  if (inputIds.dim() != 2 || inputIds.size(1) == 0) throw invalidArgument("input_ids must be (batch, seq_len > 0)");

  c10::InferenceMode inference;
  const at::Device device = model.device();
  const int64_t batch = inputIds.size(0);
  // The last token is chosen, never run: the cache needs the prompt and maxNewTokens - 1 more at most. Most
  // completions end early, so it starts smaller and grows as needed.
  const int64_t limit = inputIds.size(1) + options_.maxNewTokens - 1;
  const int64_t capacity = std::min(limit, inputIds.size(1) + kInitialRoom);
  cache_.emplace(model.config(), batch, capacity, limit, model.dtype(), device);
  generator_ = seededGenerator(device, options_.seed);
  eos_ = at::tensor(options_.eosTokenIds, at::TensorOptions().dtype(at::kLong)).to(device);
  unfinished_ = at::ones({batch}, at::TensorOptions().dtype(at::kBool).device(device));
  logits_ = lastLogits(model, model.cachedHiddenStates(inputIds, attentionMask, *cache_));
}

GenerationChunk Generation::step(const models::CausalLM& model, int64_t maxSteps,
                                 const std::vector<int64_t>& stopRows) {
  c10::InferenceMode inference;
  const int64_t batch = unfinished_.size(0);
  for (int64_t row : stopRows) {
    if (row < 0 || row >= batch)
      throw invalidArgument("stop row " + std::to_string(row) + " is outside the batch of " + std::to_string(batch));
    unfinished_[row] = false;
  }
  if (!done_ && !stopRows.empty() && !unfinished_.any().item<bool>()) done_ = true;

  std::vector<at::Tensor> tokens, logits;
  while (!done_ && static_cast<int64_t>(tokens.size()) < maxSteps) {
    at::Tensor next = nextTokens(logits_, options_.sampling, generator_);
    next = at::where(unfinished_, next, options_.padTokenId);
    tokens.push_back(next);
    if (options_.outputLogits) logits.push_back(logits_);
    unfinished_ = unfinished_.logical_and(at::isin(next, eos_).logical_not());
    done_ = ++produced_ == options_.maxNewTokens || !unfinished_.any().item<bool>();
    if (!done_) logits_ = lastLogits(model, model.cachedHiddenStates(next.unsqueeze(1), {}, *cache_));
  }
  if (done_) {
    cache_.reset();
    logits_ = at::Tensor();
  }

  GenerationChunk chunk;
  chunk.done = done_;
  chunk.tokens =
      tokens.empty() ? at::empty({batch, 0}, at::kInt) : at::stack(tokens, 1).to(at::kCPU, at::kInt).contiguous();
  if (options_.outputLogits && !logits.empty()) chunk.logits = at::stack(logits, 0).to(at::kCPU).contiguous();
  return chunk;
}

}  // namespace alignkit::generate
