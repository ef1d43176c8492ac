// Values each of which passes its own field's check but with which a run cannot train: refused at config load, with
// the reason, rather than found as a NaN loss (or as a run that learns nothing) after the work. Every number is
// already finite (load-config.ts); these are the rules that need another key to decide. The rules between loss keys
// (beta, label_smoothing, loss_type...) are the native loss catalogue's (loss-options.ts).
import { AlignkitError } from '../errors.js';

/** The keys the rules read, as a resolved config of any trainer holds them (absent for trainers without the key). */
interface TrainableFields {
  trainer: string;
  adam_beta1?: number;
  adam_beta2?: number;
  num_train_epochs?: number;
  max_steps?: number;
  sync_ref_model?: boolean;
  precompute_ref_log_probs?: boolean | null;
  ref_model_dtype?: string | null;
}

export function checkTrainableValues(config: TrainableFields, where: string): void {
  const refuse = (message: string) => new AlignkitError('ERR_INVALID_CONFIG', `${where}: ${message}`);
  // torch.optim.AdamW refuses these too ("Invalid beta parameter"): at 1 the bias correction divides by 0.
  for (const key of ['adam_beta1', 'adam_beta2'] as const) {
    const value = config[key];
    if (value !== undefined && value >= 1)
      throw refuse(`'${key}' must be below 1, got ${value} (AdamW's bias correction divides by 1 - ${key}^step)`);
  }
  if (config.num_train_epochs === 0 && config.max_steps !== undefined && config.max_steps <= 0) {
    throw refuse(
      "'num_train_epochs' is 0 and max_steps is unset: the run would train no step; set num_train_epochs above 0 or max_steps",
    );
  }
  // DPOTrainer and KTOTrainer refuse it in __init__.
  if (config.sync_ref_model && config.precompute_ref_log_probs) {
    throw refuse(
      'sync_ref_model cannot be combined with precompute_ref_log_probs: the synced reference would make the precomputed log-probs stale (TRL refuses it too)',
    );
  }
  // TR-DPO mixes the policy's weights into the reference's, which holds them in the policy's dtype.
  if (config.sync_ref_model && config.ref_model_dtype != null) {
    throw refuse(
      `ref_model_dtype: ${config.ref_model_dtype} cannot be combined with sync_ref_model: mixing the policy into a reference held in another dtype is not implemented; leave ref_model_dtype null`,
    );
  }
}
