// The DPO loss family at TRL 1.13 parity (trl/trainer/dpo_trainer.py, DPOTrainer._compute_loss, lines
// 1434-1616): per-sequence policy and reference log-probs in, Σ_i loss_weights[i] · mean(per-pair loss_i) out,
// with the rewards β·(policy − reference) log-ratios that TRL logs beside it. One function per loss type lives
// in dpo_loss.cpp; this header is the whole interface. Everything is small (B pairs), so the gradient with
// respect to the policy log-probs comes from autograd over these tensors, and the caller back-propagates it
// through the model (train/dpo_step.h).
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "train/option_catalogue.h"

namespace alignkit::train {

// DPOConfig's loss fields, under their TRL names and with TRL 1.13's defaults.
struct DpoLossOptions {
  double beta = 0.1;
  std::vector<std::string> loss_type{"sigmoid"};    // several: their losses are summed, weighted by loss_weights
  std::optional<std::vector<double>> loss_weights;  // unset: 1 for every loss type
  double label_smoothing = 0.0;
  bool use_weighting = false;      // WPO
  std::optional<double> ld_alpha;  // LD-DPO: logps = shared + ld_alpha · tail
  std::string f_divergence_type = "reverse_kl";
  double f_alpha_divergence_coef = 0.5;
  double discopop_tau = 0.05;
};

// Every DpoLossOptions field by its TRL name; loss_type's and f_divergence_type's choices are the names registered
// in dpo_loss.cpp. validate throws, naming the keys, where TRL's DPOTrainer.__init__ (or the loss's formula) refuses
// the combination.
const OptionCatalogue<DpoLossOptions>& dpoLossCatalogue();
void validateDpoLossOptions(const DpoLossOptions& options);

// All (2B) float32, rows [chosen_0..chosen_{B-1}, rejected_0..rejected_{B-1}] as DataCollatorForPreference
// lays them out.
struct DpoLossInputs {
  at::Tensor logps;               // policy: sum of completion-token log-probs (may carry autograd)
  at::Tensor tailLogps;           // policy: the LD-DPO tail part of logps; needed only with ld_alpha
  at::Tensor refLogps;            // reference, already shared + ld_alpha · tail when ld_alpha is set
  at::Tensor completionLengths;   // completion_mask.sum(1), unshifted (ipo, sigmoid_norm normalisation)
  at::Tensor predictedTokens;     // completion_mask[:, 1:].sum(1) (sft mean, WPO mean)
  at::Tensor logSumSquaredProbs;  // per-sequence sum of log Σ_v p_v² over completion tokens (WPO)
};

struct DpoLoss {
  at::Tensor loss;                            // () float32, with autograd to the inputs' logps / tailLogps
  at::Tensor chosenLogps, rejectedLogps;      // (B) the policy's (LD-weighted) log-probs, detached
  at::Tensor chosenRewards, rejectedRewards;  // (B) β · log-ratios, detached
};

DpoLoss dpoLoss(const DpoLossInputs& inputs, const DpoLossOptions& options);

// dpoLoss on detached copies, and dLoss/dlogps, dLoss/dtailLogps (2B) by autograd: the gradOutput for
// back-propagating through the model (gradTailLogps is zero without ld_alpha).
struct DpoLossGradient {
  DpoLoss value;
  at::Tensor gradLogps, gradTailLogps;
};

DpoLossGradient dpoLossGradient(const DpoLossInputs& inputs, const DpoLossOptions& options);

}  // namespace alignkit::train
