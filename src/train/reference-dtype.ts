// ref_model_dtype: the dtype a DPO or KTO run holds its frozen reference in. TRL loads the reference like the policy
// (its dtype); a bfloat16 reference halves its weight memory and runs its forward in bfloat16, at the price of
// log-probs that differ from the float32 reference's by bfloat16 rounding (docs/training.md gives the measure).
// sync_ref_model with it is refused at config load (trainable-values.ts): TR-DPO mixes the policy into the reference.
import type { DpoConfig, KtoConfig } from '../config/load-config.js';
import type { Dtype } from '../types/model.js';
import { trainingDtype } from './model-init.js';

/**
 * The dtype the reference model is loaded in. With LoRA the reference is the policy's base (adapters off, or a copy
 * of the starting adapter on it), which alignkit's LoRA holds in float32: the key has no effect, one note says so.
 */
export function referenceDtype(config: DpoConfig | KtoConfig, lora: boolean, note: (message: string) => void): Dtype {
  const policyDtype = trainingDtype(config);
  if (config.ref_model_dtype === null) return policyDtype;
  if (lora) {
    note(
      `note: ref_model_dtype: ${config.ref_model_dtype} has no effect with PEFT: the reference is the LoRA model's base (adapters off, or a frozen copy of the starting adapter), held in the policy's dtype as alignkit's LoRA needs`,
    );
    return policyDtype;
  }
  return config.ref_model_dtype;
}
