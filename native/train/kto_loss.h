// The KTO loss family at TRL 1.13 parity (trl/trainer/kto_trainer.py, KTOTrainer._compute_loss): per-sequence
// policy and reference log-probs, each row's label and the batch's KL reference point in; the weighted mean of
// the per-row losses out, with the rewards β·(policy − reference) TRL logs beside it. The rows are few (B), so
// the gradient with respect to the policy log-probs comes from autograd over these tensors (train/kto_step.h
// back-propagates it through the model).
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "train/option_catalogue.h"

namespace alignkit::train {

// KTOConfig's loss fields, under their TRL names and with TRL 1.13's defaults.
struct KtoLossOptions {
  double beta = 0.1;
  std::string loss_type = "kto";
  double desirable_weight = 1.0;
  double undesirable_weight = 1.0;
};

// Every KtoLossOptions field by its TRL name; loss_type's choices are the names registered in kto_loss.cpp.
// validate throws, naming the keys, where the options cannot train.
const OptionCatalogue<KtoLossOptions>& ktoLossCatalogue();
void validateKtoLossOptions(const KtoLossOptions& options);

// All (B) float32 but labels (B) bool or 0/1, rows in batch order (DataCollatorForUnpairedPreference).
struct KtoLossInputs {
  at::Tensor logps;     // policy: sum of completion-token log-probs (may carry autograd)
  at::Tensor refLogps;  // reference
  at::Tensor labels;    // desirable (true) or undesirable (false)
  // The detached KL estimate from the batch's mismatched (prompt, completion) rows, clamped at 0; unused by
  // apo_zero_unpaired.
  double kl = 0.0;
};

struct KtoLoss {
  at::Tensor loss;     // () float32, with autograd to the inputs' logps
  at::Tensor rewards;  // (B) β · log-ratios, detached, in batch order
};

KtoLoss ktoLoss(const KtoLossInputs& inputs, const KtoLossOptions& options);

}  // namespace alignkit::train
