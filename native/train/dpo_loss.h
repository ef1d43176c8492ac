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

namespace alignkit::train {

// DPOConfig's loss fields, under their TRL names (camelCase).
struct DpoLossOptions {
  double beta = 0.1;
  std::vector<std::string> lossType{"sigmoid"};  // sigmoid hinge ipo exo_pair nca_pair robust bco_pair sppo_hard
                                                 // aot aot_unpaired apo_zero apo_down discopop sft sigmoid_norm
  std::vector<double> lossWeights;               // empty: 1 for every loss type
  double labelSmoothing = 0.0;
  bool useWeighting = false;                     // WPO
  std::optional<double> ldAlpha;                 // LD-DPO: logps = shared + ld_alpha · tail
  std::string fDivergenceType = "reverse_kl";    // reverse_kl forward_kl js_divergence alpha_divergence
  double fAlphaDivergenceCoef = 0.5;
  double discopopTau = 0.05;
};

// Throws, naming the field, where TRL's DPOTrainer.__init__ refuses the combination.
void validateDpoLossOptions(const DpoLossOptions& options);

// All (2B) float32, rows [chosen_0..chosen_{B-1}, rejected_0..rejected_{B-1}] as DataCollatorForPreference
// lays them out.
struct DpoLossInputs {
  at::Tensor logps;               // policy: sum of completion-token log-probs (may carry autograd)
  at::Tensor tailLogps;           // policy: the LD-DPO tail part of logps; needed only with ldAlpha
  at::Tensor refLogps;            // reference, already shared + ld_alpha · tail when ldAlpha is set
  at::Tensor completionLengths;   // completion_mask.sum(1), unshifted (ipo, sigmoid_norm normalisation)
  at::Tensor predictedTokens;     // completion_mask[:, 1:].sum(1) (sft mean, WPO mean)
  at::Tensor logSumSquaredProbs;  // per-sequence sum of log Σ_v p_v² over completion tokens (WPO)
};

struct DpoLoss {
  at::Tensor loss;                           // () float32, with autograd to the inputs' logps / tailLogps
  at::Tensor chosenLogps, rejectedLogps;     // (B) the policy's (LD-weighted) log-probs, detached
  at::Tensor chosenRewards, rejectedRewards; // (B) β · log-ratios, detached
};

DpoLoss dpoLoss(const DpoLossInputs& inputs, const DpoLossOptions& options);

// dpoLoss on detached copies, and dLoss/dlogps, dLoss/dtailLogps (2B) by autograd: the gradOutput for
// back-propagating through the model (gradTailLogps is zero without ldAlpha).
struct DpoLossGradient {
  DpoLoss value;
  at::Tensor gradLogps, gradTailLogps;
};

DpoLossGradient dpoLossGradient(const DpoLossInputs& inputs, const DpoLossOptions& options);

}  // namespace alignkit::train
