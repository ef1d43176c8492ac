// One forward and backward of a log-prob op on given tensors: the kernels alone, without a model, for the tests
// that compare them with torch on recorded hidden states and lm_head weights (test/ops, through the addon's
// probeLogProbs). The backward is of sum(gradOutput * logps), as a caller's loss would take it.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "ops/fused_linear_logprobs.h"
#include "ops/logits_transform.h"

namespace alignkit::ops {

struct LogProbsProbeOptions {
  // "fused" (fusedLinearLogProbs), "loss" (fusedLinearLogProbsLoss with g = gradOutput) or "reference"
  // (logprobsReference).
  std::string op = "fused";
  ChunkSizes chunks;
  LogitsTransform transform;
  bool bf16 = false;  // the forward under bfloat16 autocast, as TrainingArguments' bf16
};

struct LogProbsProbe {
  TokenLogProbs tokens;         // detached
  at::Tensor dHidden, dWeight;  // float32, the shapes of hidden and weight
};

// hidden (N, C) and weight (V, C) float32, labels (N) integer (< 0 ignored), gradOutput (N) float32; CPU.
LogProbsProbe probeLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                            const at::Tensor& gradOutput, const LogProbsProbeOptions& options);

}  // namespace alignkit::ops
