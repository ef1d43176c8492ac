// Fused lm_head + log-softmax + gather: per-token log p(label) straight from the hidden states, without the
// (N, V) logits ever existing. Rows are taken in chunks of rowChunk, the vocabulary in chunks of vocabChunk;
// each (rowChunk, vocabChunk) logits tile is made by one matmul, folded into an online logsumexp and dropped.
// The backward recomputes the tiles (as Liger-Kernel's fused linear cross-entropy does) from the per-row
// logsumexp, so only hidden, weight, labels and lse (N) are kept between forward and backward.
//
// It also gathers what TRL's DPOTrainer logs from the full logits (logits/chosen, entropy, mean_token_accuracy)
// in the same pass: the mean logit over the vocabulary, the entropy of the softmax, and whether the argmax is
// the label; and log sum p^2 for WPO's weights (use_weighting). CPU kernel; other devices are refused (a CUDA kernel comes later).
#pragma once

#include <ATen/ATen.h>

namespace alignkit::ops {

// All (N), float32 except `correct` (bool). Only `logps` carries autograd; the statistics are detached.
struct TokenLogProbs {
  at::Tensor logps;      // log softmax(h W^T)[label]; 0 where label < 0
  at::Tensor meanLogit;  // mean over the vocabulary of h W^T (TRL's logits/chosen before the token average)
  at::Tensor entropy;    // -sum p log p of softmax(h W^T), in nats (trl.trainer.utils.entropy_from_logits)
  // log sum p^2 = logsumexp(2 h W^T) - 2 logsumexp(h W^T): the log_denom of TRL's WPO weights (use_weighting)
  at::Tensor logSumSquaredProbs;
  at::Tensor correct;    // argmax(h W^T) == label (first maximum on ties, as torch.argmax); false where label < 0
};

struct ChunkSizes {
  int64_t rowChunk = 1024;
  int64_t vocabChunk = 4096;
};

// hidden (N, C) any float dtype; weight (V, C) any float dtype; labels (N) integer, < 0 = ignored (logp 0, no
// gradient). Accumulates in float32. Gradients flow to hidden and weight (in their own dtypes).
TokenLogProbs fusedLinearLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                  ChunkSizes chunks = {});

// The plain version: full (N, V) float32 logits -> log_softmax -> gather, and the statistics from the same
// logits. Any device; autograd through ATen. The fused function is tested against it.
TokenLogProbs logprobsReference(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels);

}  // namespace alignkit::ops
