// The learning-rate schedules of transformers 5.18 (transformers/optimization.py), as pure functions of the
// optimizer step. HF wraps each multiplier in a LambdaLR, so the learning rate is `learning_rate * multiplier`.
//
// Which step's rate: the Trainer reads `_get_learning_rate()` after optimizer.step() and before
// lr_scheduler.step(), so the `learning_rate` it logs at global_step k is the rate optimizer step k used,
// multiplier(k - 1). `learningRateAt(step)` takes that 0-based step index: the rate of the (step + 1)-th update.
import { AlignkitError } from '../errors.js';
import type { SCHEDULERS } from '../config/training-fields.js';

export type SchedulerType = (typeof SCHEDULERS)[number];

/** A multiplier of the base learning rate as a function of the 0-based optimizer step. */
export type LrLambda = (step: number) => number;

/**
 * TrainingArguments.get_warmup_steps: transformers 5 folded `warmup_ratio` into `warmup_steps`; a value
 * below 1 is a ratio of the total steps (rounded up), anything else a count (truncated).
 */
export function warmupStepsFor(warmup_steps: number, num_training_steps: number): number {
  return warmup_steps >= 1 ? Math.trunc(warmup_steps) : Math.ceil(num_training_steps * warmup_steps);
}

/** `get_constant_schedule`. */
export const constantSchedule = (): LrLambda => () => 1.0;

/** `get_constant_schedule_with_warmup`: linear from 0 over the warmup, then 1. */
export const constantScheduleWithWarmup =
  (num_warmup_steps: number): LrLambda =>
  (step) =>
    step < num_warmup_steps ? step / Math.max(1.0, num_warmup_steps) : 1.0;

/** `get_linear_schedule_with_warmup`: linear from 0 over the warmup, then linear down to 0 at the last step. */
export const linearScheduleWithWarmup =
  (num_warmup_steps: number, num_training_steps: number): LrLambda =>
  (step) =>
    step < num_warmup_steps
      ? step / Math.max(1, num_warmup_steps)
      : Math.max(0.0, (num_training_steps - step) / Math.max(1, num_training_steps - num_warmup_steps));

/** `get_cosine_schedule_with_warmup`: linear warmup, then a cosine over `num_cycles` periods (0.5: 1 down to 0). */
export const cosineScheduleWithWarmup =
  (num_warmup_steps: number, num_training_steps: number, num_cycles = 0.5): LrLambda =>
  (step) => {
    if (step < num_warmup_steps) return step / Math.max(1, num_warmup_steps);
    const progress = (step - num_warmup_steps) / Math.max(1, num_training_steps - num_warmup_steps);
    return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * num_cycles * 2.0 * progress)));
  };

export interface ScheduleOptions {
  lr_scheduler_type: SchedulerType;
  learning_rate: number;
  /** A count, or below 1 a ratio of `num_training_steps` (see {@link warmupStepsFor}). */
  warmup_steps: number;
  /** Total optimizer steps of the run. */
  num_training_steps: number;
  /** Extra scheduler arguments, as HF's `scheduler_specific_kwargs`; only cosine takes one (`num_cycles`). */
  lr_scheduler_kwargs?: Record<string, unknown> | null;
}

/** The multiplier transformers' `get_scheduler` builds for these settings. */
export function lrLambda(options: ScheduleOptions): LrLambda {
  const { lr_scheduler_type: type, num_training_steps: total } = options;
  const warmup = warmupStepsFor(options.warmup_steps, total);
  const kwargs = options.lr_scheduler_kwargs ?? {};
  const allowed = type === 'cosine' ? ['num_cycles'] : [];
  for (const key of Object.keys(kwargs)) {
    if (!allowed.includes(key)) {
      throw new AlignkitError('ERR_INVALID_CONFIG', `lr_scheduler_kwargs.${key}: not an argument of the ${type} scheduler` +
        (allowed.length ? ` (takes ${allowed.join(', ')})` : ' (takes none)'));
    }
  }
  switch (type) {
    case 'constant':
      return constantSchedule();
    case 'constant_with_warmup':
      return constantScheduleWithWarmup(warmup);
    case 'linear':
      return linearScheduleWithWarmup(warmup, total);
    case 'cosine': {
      const cycles = kwargs['num_cycles'] ?? 0.5;
      if (typeof cycles !== 'number') {
        throw new AlignkitError('ERR_INVALID_CONFIG', `lr_scheduler_kwargs.num_cycles: expected a number, got ${JSON.stringify(cycles)}`);
      }
      return cosineScheduleWithWarmup(warmup, total, cycles);
    }
  }
}

/** The learning rate of 0-based optimizer step `step`: what the Trainer logs as `learning_rate` at global_step step + 1. */
export function learningRateSchedule(options: ScheduleOptions): (step: number) => number {
  const lambda = lrLambda(options);
  return (step) => options.learning_rate * lambda(step);
}
