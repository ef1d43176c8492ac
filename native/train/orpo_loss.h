// The ORPO loss at TRL 1.13 parity (trl/experimental/orpo/orpo_trainer.py, ORPOTrainer.odds_ratio_loss and
// get_batch_loss_metrics): no reference model; the policy's average per-token log-probs of the chosen and rejected
// completions give the log odds ratio, and the loss is the chosen NLL minus its β-weighted log-sigmoid. Small (P
// pairs): the gradient comes from autograd over these tensors, back-propagated through the model by
// train/reference_free_step.h.
#pragma once

#include <ATen/ATen.h>

#include "train/option_catalogue.h"

namespace alignkit::train {

// ORPOConfig's loss field, under its TRL name and with TRL 1.13's default (λ in the paper).
struct OrpoLossOptions {
  double beta = 0.1;
};

const OptionCatalogue<OrpoLossOptions>& orpoLossCatalogue();
void validateOrpoLossOptions(const OrpoLossOptions& options);

struct OrpoLoss {
  at::Tensor loss;                            // () float32, with autograd
  at::Tensor chosenRewards, rejectedRewards;  // (P) β · average log-probs, detached
  double logOddsRatio;                        // mean over pairs of log σ(log odds) (TRL's log_odds_ratio)
  double logOddsChosen;                       // mean over pairs of the log odds (TRL's log_odds_chosen)
};

// ORPO, Hong et al. 2024 (https://huggingface.co/papers/2403.07691) Eqs. 4, 7: log odds(y) = log p − log(1 − p) of
// the length-normalised likelihood p; loss = NLL(chosen) − β · mean log σ(log odds(chosen) − log odds(rejected)).
// chosenLogps, rejectedLogps (P): average log-probs per completion token, with autograd; nll (): the chosen rows'
// mean token NLL over prompt and completion.
OrpoLoss orpoLoss(const at::Tensor& chosenLogps, const at::Tensor& rejectedLogps, const at::Tensor& nll,
                  const OrpoLossOptions& options);

}  // namespace alignkit::train
