// The entry the Trainer logs when training ends (transformers 5.18 _finalize_training): speed_metrics' runtime and
// throughput, total_flos, train_loss. The loop adds TRL's metrics (if any are pending), epoch and step.
import type { Model } from '../model.js';

export interface SummaryInput {
  /** Seconds from the start of the loop (after setup) to its end, this session. */
  runtime: number;
  /**
   * Optimizer steps and training samples of this session. The same as HF's for a run from step 0; after a resume
   * HF divides the whole run's counts by this session's runtime, we count this session's share.
   */
  steps: number;
  samples: number;
  totalFlos: number;
  /**
   * Every step's loss summed since step 0, and the steps. HF sums only this session's losses (it keeps no total in
   * its checkpoints) yet divides by global_step, so a resumed run's train_loss would shrink; ours is the mean.
   */
  totalLoss: number;
  globalStep: number;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export function trainSummary(s: SummaryInput): Record<string, number> {
  const speeds: Record<string, number> =
    s.runtime > 0
      ? {
          train_samples_per_second: round(s.samples / s.runtime, 3),
          train_steps_per_second: round(s.steps / s.runtime, 3),
        }
      : {};
  return {
    train_runtime: round(s.runtime, 4),
    ...speeds,
    total_flos: s.totalFlos,
    train_loss: s.totalLoss / Math.max(s.globalStep, 0.001),
  };
}

/**
 * set_initial_training_values' num_train_samples: max_steps × the batch of one optimizer step (every rank's), else
 * rows × num_train_epochs.
 */
export function trainSamples(
  config: {
    max_steps: number;
    per_device_train_batch_size: number;
    gradient_accumulation_steps: number;
    num_train_epochs: number;
  },
  rows: number,
  maxSteps: number,
  worldSize = 1,
): number {
  return config.max_steps > 0
    ? maxSteps * config.per_device_train_batch_size * config.gradient_accumulation_steps * worldSize
    : rows * config.num_train_epochs;
}

/**
 * Trainer.floating_point_ops per input token: PreTrainedModel's estimate, 6 (forward + backward) × the parameters
 * outside nn.Embedding modules; in the causal LMs we load that is model.embed_tokens alone (a tied lm_head is the
 * same tensor and is not counted twice). LoRA adapters count, as they are parameters of the wrapped model.
 */
export function flosPerToken(model: Model): number {
  return (
    6 *
    model
      .parameters()
      .filter((p) => p.name !== 'model.embed_tokens.weight')
      .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0)
  );
}
