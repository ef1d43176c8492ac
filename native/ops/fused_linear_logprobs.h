// Fused lm_head + log-softmax + gather: per-token log p(label) straight from the hidden states, without the
// (N, V) logits ever existing. Rows are taken in chunks of rowChunk, the vocabulary in chunks of vocabChunk;
// each (rowChunk, vocabChunk) logits tile is made by one matmul, folded into an online logsumexp and dropped.
// The backward recomputes the tiles (as Liger-Kernel's fused linear cross-entropy does) from the per-row
// logsumexp, so only hidden, weight, labels and lse (N) are kept between forward and backward.
//
// It also gathers what TRL's DPOTrainer logs from the full logits (logits/chosen, entropy, mean_token_accuracy)
// in the same pass: the mean logit over the vocabulary, the entropy of the softmax, and whether the argmax is
// the label; and log sum p^2 for WPO's weights (use_weighting).
//
// A family's final-logit transform (ops/logits_transform.h: Granite's logits_scaling, Gemma's soft-cap) is
// applied to every tile before the softmax, and its derivative chained into dZ; the log-probs and statistics are
// those of the transformed logits, as TRL takes them from the model's output. Under autocast it is applied in
// float32 to the bfloat16-rounded tile (h W^T), as TRL's default SFT loss (chunked_nll) does, where the model's
// forward (DPO, KTO, SFT's nll) divides and tanh's in bfloat16: each of those bfloat16 operations rounds once more
// (up to 2^-8 relative each), which ours do not (test/ops/logits-transform.test.ts measures the difference).
//
// The tile loop is shared; the work on a tile is per device (ops/logits_tile.h): on CPU the tiles and matmuls
// are float32; on CUDA (Liger-Kernel style) each tile comes from one cuBLAS matmul in the inputs' dtype, as
// under autocast (bf16/fp16 stay so), and one kernel folds it into the running statistics, or in backward turns
// it into dZ in place. Statistics and gradient accumulation are float32 on both.
//
// Under autocast (common/autocast.h), which does not reach into a custom autograd Function, the lm_head matmul
// runs in autocast's dtype as an autocast linear would: inputs cast to bfloat16, logits rounded to bfloat16, then
// widened for the float32 log-softmax, as TRL computes under bf16 (accelerate upcasts the autocast forward's
// logits; selective_log_softmax runs on those). Its backward takes dZ in bfloat16 and rounds dH and dW to
// bfloat16 once, as autograd through that linear does; on CPU the bfloat16 dZ, H and W are multiplied in float32
// (their products are exact there), so the result does not depend on the tiling.
#pragma once

#include <ATen/ATen.h>

#include "ops/logits_transform.h"

namespace alignkit::ops {

// All (N), float32 except `correct` (bool). Only `logps` carries autograd; the statistics are detached.
struct TokenLogProbs {
  at::Tensor logps;      // log softmax(h W^T)[label]; 0 where label < 0
  at::Tensor meanLogit;  // mean over the vocabulary of h W^T (TRL's logits/chosen before the token average)
  at::Tensor entropy;    // -sum p log p of softmax(h W^T), in nats (trl.trainer.utils.entropy_from_logits)
  // log sum p^2 = logsumexp(2 h W^T) - 2 logsumexp(h W^T): the log_denom of TRL's WPO weights (use_weighting)
  at::Tensor logSumSquaredProbs;
  at::Tensor correct;  // argmax(h W^T) == label (first maximum on ties, as torch.argmax); false where label < 0
};

// 0 takes the device's default (LogitsTileKernels::defaultChunks): 1024 rows x 4096 entries on CPU (a 16 MiB
// tile); 2048 x 32768 on CUDA, where a 32k vocabulary fits one tile (up to 128 MiB in bf16, 256 MiB in float32)
// and each row chunk is one large matmul and one kernel launch. fusedLinearLogProbsLoss's tiles hold the whole
// vocabulary: it takes rowChunk only, by default LogitsTileKernels::lossRowChunk (on CPU 524 rows at V = 32000, a
// 64 MiB float32 tile; on CUDA as many rows as keep the default tile's area).
struct ChunkSizes {
  int64_t rowChunk = 0;
  int64_t vocabChunk = 0;
};

// hidden (N, C) any float dtype; weight (V, C) any float dtype, on the device of hidden; labels (N) integer, < 0 =
// ignored (logp 0, no gradient). Accumulates in float32. Gradients flow to hidden and weight (in their own dtypes).
// The logits are transform(h W^T).
TokenLogProbs fusedLinearLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                  ChunkSizes chunks = {}, const LogitsTransform& transform = {});

// Liger-Kernel's fused linear cross-entropy, for a loss whose gradient in each logp is known before the forward
// (SFT: -1/num_items_in_batch on every label token): loss = sum_i g_i logp_i. Each row chunk's logits tile holds
// the whole vocabulary, so once folded its lse is final and the tile turns into dZ at once: dH and dW are made in
// the forward (3 lm_head matmuls per tile, no recompute) and the backward only scales them by dL/dloss.
// Rows with label < 0 are dropped before the lm_head: no gradient, and logp and every statistic 0 there.
// hidden, weight, labels as fusedLinearLogProbs; g (N) float. Gradients flow to hidden and weight through loss.
struct LogProbsLoss {
  at::Tensor loss;       // () float32, with autograd
  TokenLogProbs tokens;  // detached, logps included
};
LogProbsLoss fusedLinearLogProbsLoss(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                     const at::Tensor& g, ChunkSizes chunks = {},
                                     const LogitsTransform& transform = {});

// The plain version: full (N, V) logits (under autocast, a bfloat16 matmul) -> float32 -> transform ->
// log_softmax -> gather, and the statistics from the same logits. Any device; autograd through ATen. The fused
// function is tested against it.
TokenLogProbs logprobsReference(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                const LogitsTransform& transform = {});

}  // namespace alignkit::ops
