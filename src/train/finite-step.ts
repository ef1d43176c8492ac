// A NaN must never reach a saved file: the first optimizer step whose loss or gradient norm is not finite stops the
// run before its update, so the weights, the checkpoints already written and output_dir's model stay as they were.
// (TRL's logging_nan_inf_filter only hides such a step from the log; the model would still take it.)
import { AlignkitError } from '../errors.js';

/** Throws ERR_NOT_FINITE naming the step, the value and the last checkpoint, when `value` is NaN or infinite. */
export function stopIfNotFinite(
  what: 'loss' | 'gradient norm',
  value: number,
  step: number,
  learningRate: number,
  checkpoint: string | undefined,
): void {
  if (Number.isFinite(value)) return;
  const kept = checkpoint ? `the last good checkpoint is ${checkpoint}` : 'no checkpoint was written before it';
  throw new AlignkitError(
    'ERR_NOT_FINITE',
    `step ${step}: the ${what} is ${value} (learning_rate ${learningRate}); training ` +
      `stopped before this step's update and wrote no model; ${kept}. Lower learning_rate, or check the data and max_grad_norm`,
  );
}
