// TR-DPO's reference update, Gorbatovski et al. 2024 (https://huggingface.co/papers/2404.09656): every
// ref_model_sync_steps optimizer steps the reference moves toward the policy, π_ref ← α·π_θ + (1 − α)·π_ref.
// Mirrors TRL 1.13's SyncRefModelCallback._sync_target_model (trl/trainer/callbacks.py).
#pragma once

#include "models/causal_lm.h"

namespace alignkit::train {

// target ← (1 − alpha)·target + alpha·source, parameter by parameter, in place (the tensors the target's
// forward and any optimizer over it hold are updated). Both models must have the same parameter names, shapes,
// dtype and device; alpha in [0, 1].
void mixParameters(const models::CausalLM& target, const models::CausalLM& source, double alpha);

}  // namespace alignkit::train
