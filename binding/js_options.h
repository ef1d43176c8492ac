// Reading N-API call arguments: option objects, batch typed arrays, Float32Array views. Each throws a
// TypeError naming the argument and what was expected.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <string>
#include <vector>

#include "ops/fused_linear_logprobs.h"
#include "train/completion_logprobs.h"
#include "train/forward_options.h"
#include "train/step_backward.h"

namespace alignkit::binding {

std::string stringOption(const Napi::Object& options, const char* key, const std::string& fallback);
bool boolOption(const Napi::Object& options, const char* key, bool fallback = false);
double numberOption(const Napi::Object& options, const char* key, double fallback);
int64_t positiveInt(const Napi::Value& v, const char* name);
int64_t positiveIntOption(const Napi::Object& options, const char* key, int64_t fallback);

// rowChunk and vocabChunk of the fused log-prob kernel (absent = the device's default).
ops::ChunkSizes chunkOptions(const Napi::Object& options);

// TrainingArguments' bf16 and gradient_checkpointing, by those names (absent = false), and checkpointed_layers
// (one boolean per decoder layer; absent = every layer).
train::ForwardOptions forwardOptions(const Napi::Object& options);

// The completion log-prob pass's options: rowChunk, vocabChunk, reference, pairTail, bf16, gradient_checkpointing.
train::CompletionLogProbsOptions logProbsOptions(const Napi::Object& options);

// { backward? (default true), lossScale? (default 1) } of a preference step.
train::StepBackward stepBackward(const Napi::Object& options);

// Views of a batch's typed arrays: (inputIds, attentionMask?, [positionIds?,] batch, seqLen).
struct Batch {
  at::Tensor inputIds, attentionMask, positionIds;
};
Batch viewBatch(const Napi::CallbackInfo& info, bool withPositions, std::vector<Napi::Value>& keepAlive);

// A Float32Array of n values viewed in place, or undefined when absent.
at::Tensor float32View(const Napi::Value& v, int64_t n, const std::string& name, std::vector<Napi::Value>& keepAlive);

}  // namespace alignkit::binding
