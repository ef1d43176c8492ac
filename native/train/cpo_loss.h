// The CPO loss family at TRL 1.13 parity (trl/experimental/cpo/cpo_trainer.py, CPOTrainer.cpo_loss and
// get_batch_loss_metrics): no reference model; the policy's chosen and rejected log-probs (summed, or averaged per
// token for ipo and simpo) give a preference loss, plus cpo_alpha times the NLL of the chosen completions. One
// function per loss_type in cpo_loss.cpp. Small (P pairs): the gradient comes from autograd over these tensors,
// back-propagated through the model by train/reference_free_step.h.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "train/option_catalogue.h"

namespace alignkit::train {

// CPOConfig's loss fields, under their TRL names and with TRL 1.13's defaults.
struct CpoLossOptions {
  double beta = 0.1;
  double label_smoothing = 0.0;  // sigmoid and simpo only (TRL warns and ignores it for hinge and ipo)
  std::string loss_type = "sigmoid";
  double cpo_alpha = 1.0;    // weight of the chosen NLL (behaviour cloning); 0 = pure SimPO with loss_type simpo
  double simpo_gamma = 0.5;  // SimPO's target reward margin
  double alpha = 0.0;        // AlphaPO's reward shape: r = (1 − p^(−alpha)) / alpha; 0 = log p
};

const OptionCatalogue<CpoLossOptions>& cpoLossCatalogue();
void validateCpoLossOptions(const CpoLossOptions& options);

// Whether loss_type takes the average log-prob per completion token (ipo, simpo) instead of the sum.
bool cpoAveragesLogps(const CpoLossOptions& options);

struct CpoLoss {
  at::Tensor loss;                            // () float32, with autograd
  at::Tensor chosenRewards, rejectedRewards;  // (P) β · rewards (log-probs, or AlphaPO's), detached
};

// chosenLogps, rejectedLogps (P): summed or averaged (cpoAveragesLogps) completion log-probs, with autograd; nll ():
// the chosen completions' mean token NLL (0 and unused when cpo_alpha is 0).
CpoLoss cpoLoss(const at::Tensor& chosenLogps, const at::Tensor& rejectedLogps, const at::Tensor& nll,
                const CpoLossOptions& options);

}  // namespace alignkit::train
