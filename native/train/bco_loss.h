// The BCO loss at TRL 1.13 parity (trl/experimental/bco/bco_trainer.py, BCOTrainer.bco_loss): Binary Classifier
// Optimization, Jung et al. 2024 (https://arxiv.org/abs/2404.04656). Each unpaired completion's implicit reward
// r = β·(log π − log π_ref) is the logit of a binary classifier "desirable or not", shifted by δ, the running mean
// of every reward seen in training (RunningMoments): −log σ(r − δ) for a desirable row, −log σ(−(r − δ)) for an
// undesirable one, averaged over the batch (nanmean). δ is a detached constant of each step, updated from the
// batch's rewards before the loss (train mode only).
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "train/option_catalogue.h"

namespace alignkit::train {

// BCOConfig's loss field, under its TRL name and with TRL 1.13's default.
struct BcoLossOptions {
  double beta = 0.1;
};

const OptionCatalogue<BcoLossOptions>& bcoLossCatalogue();
void validateBcoLossOptions(const BcoLossOptions& options);

// TRL's RunningMoments (from MOSS-RLHF): the running mean, std and variance of every reward the trainer has seen,
// and how many; saved in each checkpoint as running.json. δ is `mean`.
struct RunningMoments {
  double mean = 0.0;
  double std = 1.0;
  double var = 1.0;
  double count = 1e-24;
};

// Sums a tensor over the data-parallel ranks in place (get_global_statistics' accelerator.reduce); empty: one process.
using AllReduceSum = std::function<void(at::Tensor&)>;

// RunningMoments.update(xs): folds the batch's rewards xs (n) into `running`, with the batch mean and (biased)
// variance taken over every rank's rewards when allReduceSum is set. The arithmetic is TRL's, in its float32/double
// mix.
void updateRunningMoments(RunningMoments& running, const at::Tensor& xs, const AllReduceSum& allReduceSum = {});

// All (B) float32 but labels (B) bool or 0/1, rows in batch order.
struct BcoLossInputs {
  at::Tensor logps;     // policy: sum of completion-token log-probs (may carry autograd)
  at::Tensor refLogps;  // reference
  at::Tensor labels;    // desirable (true) or undesirable (false)
  double delta = 0.0;   // δ: the running reward mean after this batch's update
};

struct BcoLoss {
  at::Tensor loss;     // () float32, with autograd to the inputs' logps
  at::Tensor rewards;  // (B) β · log-ratios, detached, in batch order
};

// β · (logps − refLogps), detached: what RunningMoments is updated with.
at::Tensor bcoRewards(const at::Tensor& logps, const at::Tensor& refLogps, const BcoLossOptions& options);

BcoLoss bcoLoss(const BcoLossInputs& inputs, const BcoLossOptions& options);

}  // namespace alignkit::train
