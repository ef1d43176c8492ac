// The arguments each lr_scheduler_type takes in lr_scheduler_kwargs, with transformers 5.18's defaults: those of its
// get_*_schedule function (transformers/optimization.py), of torch's ReduceLROnPlateau and of transformers' GreedyLR.
// The Trainer passes num_warmup_steps and num_training_steps itself (get_scheduler's scheduler_specific_kwargs
// hold the rest), so neither is an argument here. The checks are those transformers makes when it builds the
// scheduler, made at config load instead of at the first step.
import { AlignkitError } from '../errors.js';
import { applySchema } from './load-config.js';
import { bool, int, num, oneOf, type ConfigOf, type Schema } from './schema.js';
import type { SCHEDULERS } from './training-fields.js';

export type SchedulerType = (typeof SCHEDULERS)[number];

/** The shapes of a warmup_stable_decay warmup and decay. */
export const WSD_SHAPES = ['linear', 'cosine', '1-sqrt'] as const;
const MODES = ['min', 'max'] as const;
const THRESHOLD_MODES = ['rel', 'abs'] as const;

/** What each scheduler takes; a key of another scheduler is refused (get_scheduler raises a TypeError). */
export const schedulerKwargs = {
  linear: {},
  cosine: { num_cycles: num(0.5) },
  cosine_with_restarts: { num_cycles: num(1) },
  /** lr_end: the rate the decay ends at (below learning_rate); power: the polynomial's degree. */
  polynomial: { lr_end: num(1e-7), power: num(1.0) },
  constant: {},
  constant_with_warmup: {},
  /** timescale null: num_warmup_steps, or 10_000 without warmup. */
  inverse_sqrt: { timescale: num(null) },
  /** torch.optim.lr_scheduler.ReduceLROnPlateau's arguments (min_lr: one rate for all parameter groups). */
  reduce_lr_on_plateau: {
    mode: oneOf(MODES, 'min'),
    factor: num(0.1),
    patience: int(10, 0),
    threshold: num(1e-4),
    threshold_mode: oneOf(THRESHOLD_MODES, 'rel'),
    cooldown: int(0, 0),
    min_lr: num(0),
    eps: num(1e-8),
  },
  /** One of min_lr (a rate) or min_lr_rate (a fraction of learning_rate) is required. */
  cosine_with_min_lr: { num_cycles: num(0.5), min_lr: num(null), min_lr_rate: num(null) },
  cosine_warmup_with_min_lr: {
    num_cycles: num(0.5),
    min_lr: num(null),
    min_lr_rate: num(null),
    warmup_lr_rate: num(null),
  },
  /** num_decay_steps is required; num_stable_steps null: what num_training_steps leaves after warmup and decay. */
  warmup_stable_decay: {
    num_decay_steps: int(null, 0),
    num_stable_steps: int(null),
    warmup_type: oneOf(WSD_SHAPES, 'linear'),
    decay_type: oneOf(WSD_SHAPES, 'cosine'),
    min_lr_ratio: num(0),
    num_cycles: num(0.5),
  },
  /** transformers' GreedyLR (min_lr, max_lr: one rate for all parameter groups). */
  greedy: {
    mode: oneOf(MODES, 'min'),
    factor: num(0.95),
    patience: int(10, 0),
    threshold: num(1e-6),
    threshold_mode: oneOf(THRESHOLD_MODES, 'abs'),
    cooldown: int(0, 0),
    warmup: int(0, 0),
    min_lr: num(1e-3),
    max_lr: num(1.0),
    eps: num(1e-8),
    verbose: bool(false),
    smooth: bool(false),
    window_size: int(50, 1),
    reset_start: int(500),
  },
} satisfies Record<SchedulerType, Schema>;

export type SchedulerKwargs<T extends SchedulerType> = ConfigOf<(typeof schedulerKwargs)[T]>;

/** The schedulers the Trainer steps with an eval metric after each evaluation, not after each optimizer step. */
export const METRIC_SCHEDULERS = ['reduce_lr_on_plateau', 'greedy'] as const satisfies readonly SchedulerType[];
export const isMetricScheduler = (type: SchedulerType): type is (typeof METRIC_SCHEDULERS)[number] =>
  (METRIC_SCHEDULERS as readonly string[]).includes(type);

export interface LrSchedulerConfig {
  lr_scheduler_type: SchedulerType;
  lr_scheduler_kwargs?: Record<string, unknown> | null;
  learning_rate: number;
}

/**
 * lr_scheduler_kwargs checked against the scheduler's arguments and filled with their defaults. Refuses what
 * transformers would: an argument of another scheduler, a missing required one, values the scheduler rejects.
 */
export function resolveSchedulerKwargs<T extends SchedulerType>(
  config: LrSchedulerConfig & { lr_scheduler_type: T },
  where = 'config',
): SchedulerKwargs<T> {
  const type = config.lr_scheduler_type;
  const schema: Schema = schedulerKwargs[type];
  const takes = Object.keys(schema).join(', ') || 'no arguments';
  const kwargs = applySchema(
    config.lr_scheduler_kwargs ?? {},
    schema,
    `${where}: lr_scheduler_kwargs`,
    `lr_scheduler_type ${type}, which takes ${takes}`,
  );
  const refuse = (message: string) =>
    new AlignkitError('ERR_INVALID_CONFIG', `${where}: lr_scheduler_kwargs: ${message} (lr_scheduler_type ${type})`);
  const lr = config.learning_rate;
  switch (type) {
    case 'polynomial':
      if (!(lr > (kwargs.lr_end as number)))
        throw refuse(`lr_end (${kwargs.lr_end}) must be smaller than learning_rate (${lr})`);
      break;
    case 'inverse_sqrt':
      if (kwargs.timescale !== null && !((kwargs.timescale as number) > 0))
        throw refuse(`timescale must be above 0, got ${kwargs.timescale}`);
      break;
    case 'cosine_with_min_lr':
    case 'cosine_warmup_with_min_lr':
      if (kwargs.min_lr !== null && kwargs.min_lr_rate !== null)
        throw refuse('set one of min_lr or min_lr_rate, not both');
      if (kwargs.min_lr === null && kwargs.min_lr_rate === null)
        throw refuse('needs min_lr (a rate) or min_lr_rate (a fraction of learning_rate)');
      break;
    case 'warmup_stable_decay':
      if (kwargs.num_decay_steps === null) throw refuse('needs num_decay_steps, the steps of the decay phase');
      break;
    case 'reduce_lr_on_plateau':
    case 'greedy':
      if (!((kwargs.factor as number) < 1)) throw refuse(`factor must be below 1.0, got ${kwargs.factor}`);
      break;
  }
  return kwargs as SchedulerKwargs<T>;
}

/**
 * Config load: the scheduler's arguments (resolveSchedulerKwargs), and TrainingArguments' rule that the schedulers
 * stepped with an eval metric need an evaluation strategy.
 */
export function checkLrScheduler(config: LrSchedulerConfig & { eval_strategy: string }, where = 'config'): void {
  resolveSchedulerKwargs(config, where);
  if (isMetricScheduler(config.lr_scheduler_type) && config.eval_strategy === 'no') {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `${where}: lr_scheduler_type ${config.lr_scheduler_type} steps with the eval metric ` +
        "(metric_for_best_model) after each evaluation, so it needs eval_strategy 'steps' or 'epoch' and an eval_dataset",
    );
  }
}
