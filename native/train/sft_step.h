// One SFT micro-batch, as TRL 1.13's SFTTrainer.compute_loss runs it with loss_type "nll": transformers'
// ForCausalLMLoss (cross-entropy of labels[:, 1:] from logits[:, :-1], -100 ignored, summed and divided by
// num_items_in_batch: the label tokens of the whole optimizer step, since causal LMs accept loss kwargs), the
// gradient of that loss back-propagated into the model's .grad, and the metrics SFTTrainer logs from the same
// logits (entropy and mean_token_accuracy over the label tokens, num_tokens). The lm_head is fused into the
// log-softmax (ops/fused_linear_logprobs.h): the (B, T, V) logits never exist; with backward, as the gradient of
// every token's logp is known up front, the lm_head's gradient is made in the forward (fusedLinearLogProbsLoss,
// Liger-Kernel's fused linear cross-entropy) and the rows without a label skip the lm_head. With bf16 the forward
// runs under autocast and the backward outside it, as accelerate runs the Trainer's forward.
#pragma once

#include <ATen/ATen.h>

#include "models/causal_lm.h"
#include "ops/fused_linear_logprobs.h"
#include "train/forward_options.h"
#include "train/metric_parts.h"
#include "train/sft_loss.h"

namespace alignkit::train {

// (B, T) each, as TRL's DataCollatorForLanguageModeling lays it out. Padded: attentionMask set, positionIds
// undefined. Padding-free: one row, attentionMask undefined, positionIds restarting at 0 for each sequence (the
// model then keeps attention within each sequence).
struct SftBatch {
  at::Tensor inputIds, attentionMask, positionIds, labels;
};

struct SftStepOptions {
  ops::ChunkSizes chunks;  // with backward, rowChunk only (fusedLinearLogProbsLoss's tiles span the vocabulary)
  // The plain full-logits path (ops::logprobsReference), for checking the fused one.
  bool reference = false;
  ForwardOptions forward;
  // Accumulate the gradient of the loss (false: no autograd, as in evaluation).
  bool backward = true;
  // num_items_in_batch: the loss is the summed token NLL divided by it. 0 takes this batch's label tokens (the
  // plain mean, as prediction_step counts one batch).
  int64_t numItemsInBatch = 0;
  // Multiplies the loss's gradient (the returned loss is never scaled): data-parallel transformers counts
  // num_items_in_batch over every rank (average_tokens_across_devices) and scales each rank's loss by the world size,
  // so that DDP's gradient average is the mean over all the step's tokens.
  double lossScale = 1.0;
  // SFTConfig's loss_type (train/sft_loss.h). "dft" weights each token's -logp by its probability, detached: the
  // weight is known only after the token's logits, so it takes the fused forward with a recomputing backward
  // instead of the gradient-in-forward path.
  SftLossOptions loss;
};

// SFTTrainer.compute_loss's metrics as (sum, count) parts (train/metric_parts.h): entropy (softmax entropy) and
// mean_token_accuracy (argmax logit = label) over the label tokens; num_tokens: attention_mask.sum(), or
// position_ids.size(1) when padding-free.
struct SftStepResult {
  double loss;          // summed NLL / numItemsInBatch
  int64_t labelTokens;  // label tokens of this batch (labels[:, 1:] != -100)
  MetricParts metrics;
};

SftStepResult sftStep(const models::CausalLM& model, const SftBatch& batch, const SftStepOptions& options = {});

// The label tokens of a batch, labels[:, 1:] != -100: what transformers' _get_num_items_in_batch sums over the
// micro-batches of an optimizer step.
int64_t labelTokens(const at::Tensor& labels);

}  // namespace alignkit::train
