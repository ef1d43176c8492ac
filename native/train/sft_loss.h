// SFTConfig's loss field and the SFT loss types alignkit's SFT step (train/sft_step.h) computes: TRL 1.13's
// SFTTrainer loss_type "nll" and "chunked_nll" (the same token NLL; the fused step is always chunked) and "dft"
// (Dynamic Fine-Tuning, https://huggingface.co/papers/2508.05629: each token's -logp weighted by its detached
// probability).
#pragma once

#include <optional>
#include <string>

#include "train/option_catalogue.h"

namespace alignkit::train {

// SFTConfig's loss fields, under their TRL names and with TRL 1.13's defaults.
struct SftLossOptions {
  std::optional<std::string> loss_type;  // unset: chunked_nll, as SFTConfig.__post_init__ resolves it
};

// Every SftLossOptions field by its TRL name; loss_type's choices are the names registered in sft_loss.cpp.
const OptionCatalogue<SftLossOptions>& sftLossCatalogue();
void validateSftLossOptions(const SftLossOptions& options);

// Whether the loss weights each token's -logp by its detached probability (dft).
bool sftTokenScaling(const SftLossOptions& options);

// Whether the loss's logits are divided by the model's logits_scaling (Granite): nll and dft read the model's
// forward, which does; TRL 1.13's chunked_nll (the default) projects with lm_head itself and does not.
bool sftLogitsScaling(const SftLossOptions& options);

}  // namespace alignkit::train
