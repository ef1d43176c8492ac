// A listwise preference loss over a whole ranking: the Plackett–Luce generalisation of DPO's Bradley–Terry model,
// as in Preference Ranking Optimization (Song et al. 2023, https://arxiv.org/abs/2306.17492) and LiPO's list MLE
// (Liu et al. 2024, https://arxiv.org/abs/2402.01878). A prompt's K answers, sorted best first by their scores,
// have implicit rewards r_k = β·(log π(y_k|x) − log π_ref(y_k|x)); the Plackett–Luce likelihood of that order picks
// the best among all, then the best of the rest, and so on:
//
//   loss = −Σ_{k=1..K} log( exp(r_k) / Σ_{j≥k} exp(r_j) ) = Σ_k ( logsumexp_{j≥k} r_j − r_k )
//
// averaged over the prompts of the batch, or with weights w_g (all_pairs weighted by score gap: every pair a
// prompt of its own) Σ_g w_g·loss_g / Σ_g w_g. With K = 2 it is DPO's sigmoid loss, −log σ(r_1 − r_2). No TRL oracle
// exists: test/train/listwise-loss.test.ts checks value and gradient against a plain PyTorch implementation
// (scripts/fixtures/make_listwise_reference.py).
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "train/option_catalogue.h"

namespace alignkit::train {

struct ListwiseLossOptions {
  double beta = 0.1;
};

const OptionCatalogue<ListwiseLossOptions>& listwiseLossCatalogue();
void validateListwiseLossOptions(const ListwiseLossOptions& options);

// logps, refLogps (N) float32, N = Σ groupSizes: the rows of each prompt contiguous, best answer first.
struct ListwiseLossInputs {
  at::Tensor logps;                 // policy: sum of completion-token log-probs (may carry autograd)
  at::Tensor refLogps;              // reference
  std::vector<int64_t> groupSizes;  // answers per prompt, each >= 2
  at::Tensor weights;               // (G) float32 > 0 per prompt, or undefined (all equal)
};

struct ListwiseLoss {
  at::Tensor loss;     // () float32, (weighted) mean over the prompts, with autograd to logps
  at::Tensor rewards;  // (N) β · log-ratios, detached
};

ListwiseLoss listwiseLoss(const ListwiseLossInputs& inputs, const ListwiseLossOptions& options);

}  // namespace alignkit::train
