// precompute_ref_log_probs when the config does not write it (null): TRL's default is false, which runs the frozen
// reference's forward on every micro-batch of every epoch. When the run trains on more micro-batches than the
// training set has (num_train_epochs > 1, or max_steps past one epoch), one precomputing pass costs less than the
// per-step forwards, and the reference model is freed before step 1. The note says so and how to keep TRL's way.
import type { DpoConfig, KtoConfig } from '../config/load-config.js';

/** What the decision reads beside the config: the training set's micro-batches per epoch on this rank. */
export interface PrecomputeContext {
  batchesPerEpoch: number;
  /**
   * Whether precomputing gives the reference's values per-step forwards would: false for KTO's KL rows when they
   * come from batches the precomputing pass does not see alike (several ranks, another batch size).
   */
  sameValues: boolean;
}

/** Optimizer steps past the first epoch: the loop's maxSteps against its updates per epoch (trainer-loop.ts). */
function reusesTrainingSet(config: DpoConfig | KtoConfig, batchesPerEpoch: number): boolean {
  const updatesPerEpoch = Math.max(Math.ceil(batchesPerEpoch / config.gradient_accumulation_steps), 1);
  const maxSteps = config.max_steps > 0 ? config.max_steps : Math.ceil(config.num_train_epochs * updatesPerEpoch);
  return maxSteps > updatesPerEpoch;
}

/**
 * Whether the run precomputes the reference's log-probs: as written, or (null) when the training set is reused,
 * without sync_ref_model (the reference moves) and when precomputing gives the same values. Prints one note when it
 * turns it on.
 */
export function precomputeRefLogProbs(
  config: DpoConfig | KtoConfig,
  context: PrecomputeContext,
  note: (message: string) => void,
): boolean {
  if (config.precompute_ref_log_probs !== null) return config.precompute_ref_log_probs;
  if (config.sync_ref_model || !context.sameValues || !reusesTrainingSet(config, context.batchesPerEpoch)) return false;
  note(
    'note: precompute_ref_log_probs is on: the run trains over the same training set more than once, so one pass of ' +
      'the reference before step 1 costs less than its forward on every step, and frees the reference model ' +
      '(its log-probs are then computed without bf16 autocast, as TRL precomputes them); ' +
      'write precompute_ref_log_probs: false to run the reference on every step, as TRL does by default',
  );
  return true;
}
