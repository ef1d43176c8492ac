// The learning-rate schedules of transformers 5.18 (transformers/optimization.py, get_scheduler). Most are a
// multiplier of the optimizer step that HF wraps in a LambdaLR, so the rate is `learning_rate * multiplier(step)`;
// reduce_lr_on_plateau and greedy instead move with the eval metric (metric-lr-schedulers.ts).
//
// Which step's rate: the Trainer reads `_get_learning_rate()` after optimizer.step() and before
// lr_scheduler.step(), so the `learning_rate` it logs at global_step k is the rate optimizer step k used,
// multiplier(k - 1). `rateAt(step)` takes that 0-based step index: the rate of the (step + 1)-th update.
import {
  isMetricScheduler,
  resolveSchedulerKwargs,
  type SchedulerKwargs,
  type SchedulerType,
} from '../config/lr-scheduler-kwargs.js';
import { AlignkitError } from '../errors.js';
import {
  greedyLr,
  reduceLrOnPlateau,
  type MetricScheduler,
  type MetricSchedulerState,
} from './metric-lr-schedulers.js';

export type { SchedulerType } from '../config/lr-scheduler-kwargs.js';
export type { MetricSchedulerState } from './metric-lr-schedulers.js';

/** A multiplier of the base learning rate as a function of the 0-based optimizer step. */
export type LrLambda = (step: number) => number;

/**
 * TrainingArguments.get_warmup_steps: transformers 5 folded `warmup_ratio` into `warmup_steps`; a value
 * below 1 is a ratio of the total steps (rounded up), anything else a count (truncated).
 */
export function warmupStepsFor(warmup_steps: number, num_training_steps: number): number {
  return warmup_steps >= 1 ? Math.trunc(warmup_steps) : Math.ceil(num_training_steps * warmup_steps);
}

/** The linear warmup most schedules share: 0 at step 0 up to 1 at `num_warmup_steps`. */
const warmupRamp = (step: number, num_warmup_steps: number) => step / Math.max(1, num_warmup_steps);

/** Python's float `%`: the result takes the divisor's sign. */
function pythonMod(a: number, b: number): number {
  const mod = a % b;
  return mod !== 0 && mod < 0 !== b < 0 ? mod + b : mod;
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
      ? warmupRamp(step, num_warmup_steps)
      : Math.max(0.0, (num_training_steps - step) / Math.max(1, num_training_steps - num_warmup_steps));

/**
 * `get_cosine_schedule_with_warmup` (min_lr_rate 0) and `get_cosine_with_min_lr_schedule_with_warmup`: linear
 * warmup, then a cosine over `num_cycles` periods (0.5: from 1 down to min_lr_rate).
 */
export const cosineScheduleWithWarmup =
  (num_warmup_steps: number, num_training_steps: number, num_cycles = 0.5, min_lr_rate = 0.0): LrLambda =>
  (step) => {
    if (step < num_warmup_steps) return warmupRamp(step, num_warmup_steps);
    const progress = (step - num_warmup_steps) / Math.max(1, num_training_steps - num_warmup_steps);
    const factor = 0.5 * (1.0 + Math.cos(Math.PI * num_cycles * 2.0 * progress));
    // optimization.py redefines the cosine lambda with min_lr_rate, so cosine runs this blend too, with 0 (exact: x * 1 + 0).
    return Math.max(0.0, factor * (1 - min_lr_rate) + min_lr_rate);
  };

/** `get_cosine_with_hard_restarts_schedule_with_warmup`: `num_cycles` cosines from 1 to 0, each restarting at 1. */
export const cosineWithHardRestartsScheduleWithWarmup =
  (num_warmup_steps: number, num_training_steps: number, num_cycles = 1): LrLambda =>
  (step) => {
    if (step < num_warmup_steps) return warmupRamp(step, num_warmup_steps);
    const progress = (step - num_warmup_steps) / Math.max(1, num_training_steps - num_warmup_steps);
    if (progress >= 1.0) return 0.0;
    return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * pythonMod(num_cycles * progress, 1.0))));
  };

/**
 * `get_polynomial_decay_schedule_with_warmup`: linear warmup, then from learning_rate (`lr_init`, the optimizer's
 * initial rate) down to `lr_end` along `(1 - progress) ** power`; lr_end after the last step.
 */
export const polynomialDecayScheduleWithWarmup =
  (num_warmup_steps: number, num_training_steps: number, lr_end: number, power: number, lr_init: number): LrLambda =>
  (step) => {
    if (step < num_warmup_steps) return warmupRamp(step, num_warmup_steps);
    if (step > num_training_steps) return lr_end / lr_init; // as LambdaLR multiplies by lr_init
    const pct_remaining = 1 - (step - num_warmup_steps) / (num_training_steps - num_warmup_steps);
    return ((lr_init - lr_end) * pct_remaining ** power + lr_end) / lr_init;
  };

/** `get_inverse_sqrt_schedule`: linear warmup, then `1 / sqrt((step + timescale - warmup) / timescale)`. */
export const inverseSqrtSchedule = (num_warmup_steps: number, timescale: number | null = null): LrLambda => {
  const scale = timescale ?? (num_warmup_steps || 10_000);
  return (step) =>
    step < num_warmup_steps
      ? warmupRamp(step, num_warmup_steps)
      : 1.0 / Math.sqrt((step + (scale - num_warmup_steps)) / scale);
};

/**
 * `get_cosine_with_min_lr_schedule_with_warmup_lr_rate` (cosine_warmup_with_min_lr): as cosine_with_min_lr but one
 * step ahead, the warmup reaching 1 at its last step (from `warmup_lr_rate` when set) and the decay min_lr_rate at
 * the last training step.
 */
export const cosineWithMinLrScheduleWithWarmupLrRate =
  (
    num_warmup_steps: number,
    num_training_steps: number,
    num_cycles: number,
    min_lr_rate: number,
    warmup_lr_rate: number | null,
  ): LrLambda =>
  (step) => {
    if (step < num_warmup_steps) {
      if (warmup_lr_rate === null) return (step + 1.0) / Math.max(1.0, num_warmup_steps);
      return warmup_lr_rate + ((1.0 - warmup_lr_rate) * step) / Math.max(1, num_warmup_steps - 1);
    }
    const progress = (step - num_warmup_steps + 1.0) / Math.max(1.0, num_training_steps - num_warmup_steps);
    const factor = 0.5 * (1.0 + Math.cos(Math.PI * num_cycles * 2.0 * progress));
    return Math.max(0, factor * (1 - min_lr_rate) + min_lr_rate);
  };

/** `get_wsd_schedule`: warmup (from min_lr_ratio), a stable phase at 1, a decay to min_lr_ratio, then min_lr_ratio. */
export function warmupStableDecaySchedule(
  num_warmup_steps: number,
  num_training_steps: number,
  kw: SchedulerKwargs<'warmup_stable_decay'>,
): LrLambda {
  const { warmup_type, decay_type, min_lr_ratio, num_cycles } = kw;
  const num_decay_steps = kw.num_decay_steps!;
  const num_stable_steps = kw.num_stable_steps ?? num_training_steps - num_warmup_steps - num_decay_steps;
  const toMin = (factor: number) => Math.max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio);
  return (step) => {
    if (step < num_warmup_steps) {
      const progress = step / Math.max(1, num_warmup_steps);
      if (warmup_type === 'linear') return toMin(progress);
      if (warmup_type === 'cosine') return toMin(0.5 * (1.0 - Math.cos(Math.PI * progress)));
      return toMin(1.0 - Math.sqrt(1.0 - progress));
    }
    if (step < num_warmup_steps + num_stable_steps) return 1.0;
    if (step < num_warmup_steps + num_stable_steps + num_decay_steps) {
      const progress = (step - num_warmup_steps - num_stable_steps) / Math.max(1, num_decay_steps);
      if (decay_type === 'linear') return toMin(1.0 - progress);
      if (decay_type === 'cosine') return toMin(0.5 * (1.0 + Math.cos(Math.PI * num_cycles * 2.0 * progress)));
      return toMin(1.0 - Math.sqrt(progress));
    }
    return min_lr_ratio;
  };
}

export interface ScheduleOptions {
  lr_scheduler_type: SchedulerType;
  learning_rate: number;
  /** A count, or below 1 a ratio of `num_training_steps` (see {@link warmupStepsFor}). */
  warmup_steps: number;
  /** Total optimizer steps of the run. */
  num_training_steps: number;
  /** The scheduler's own arguments, as HF's `scheduler_specific_kwargs` (config/lr-scheduler-kwargs.ts lists them). */
  lr_scheduler_kwargs?: Record<string, unknown> | null;
  /** The eval metric reduce_lr_on_plateau and greedy follow (null: loss). */
  metric_for_best_model?: string | null;
}

/** min_lr as a fraction of learning_rate, as the min-lr cosines compute it from the optimizer's initial rate. */
function minLrRate(kw: { min_lr: number | null; min_lr_rate: number | null }, learning_rate: number): number {
  return kw.min_lr !== null ? kw.min_lr / learning_rate : kw.min_lr_rate!;
}

/** The multiplier transformers' `get_scheduler` builds for these settings (the LambdaLR schedulers). */
export function lrLambda(options: ScheduleOptions): LrLambda {
  const { num_training_steps: total, learning_rate } = options;
  const warmup = warmupStepsFor(options.warmup_steps, total);
  const at = <T extends SchedulerType>(type: T) => resolveSchedulerKwargs({ ...options, lr_scheduler_type: type });
  const type = options.lr_scheduler_type;
  switch (type) {
    case 'constant':
      at(type);
      return constantSchedule();
    case 'constant_with_warmup':
      at(type);
      return constantScheduleWithWarmup(warmup);
    case 'linear':
      at(type);
      return linearScheduleWithWarmup(warmup, total);
    case 'cosine':
      return cosineScheduleWithWarmup(warmup, total, at(type).num_cycles);
    case 'cosine_with_restarts':
      return cosineWithHardRestartsScheduleWithWarmup(warmup, total, at(type).num_cycles);
    case 'polynomial': {
      const kw = at(type);
      return polynomialDecayScheduleWithWarmup(warmup, total, kw.lr_end, kw.power, learning_rate);
    }
    case 'inverse_sqrt':
      return inverseSqrtSchedule(warmup, at(type).timescale);
    case 'cosine_with_min_lr': {
      const kw = at(type);
      return cosineScheduleWithWarmup(warmup, total, kw.num_cycles, minLrRate(kw, learning_rate));
    }
    case 'cosine_warmup_with_min_lr': {
      const kw = at(type);
      return cosineWithMinLrScheduleWithWarmupLrRate(
        warmup,
        total,
        kw.num_cycles,
        minLrRate(kw, learning_rate),
        kw.warmup_lr_rate,
      );
    }
    case 'warmup_stable_decay':
      return warmupStableDecaySchedule(warmup, total, at(type));
    case 'reduce_lr_on_plateau':
    case 'greedy':
      throw new AlignkitError(
        'ERR_INVALID_CONFIG',
        `lr_scheduler_type ${type} follows the eval metric, not the step: use createLrScheduler`,
      );
  }
}

/** The learning rate of every optimizer step, and what moves it besides the step. */
export interface LrScheduler {
  /** The rate of 0-based optimizer step `step`: what the Trainer logs as `learning_rate` at global_step step + 1. */
  rateAt(step: number): number;
  /**
   * After an evaluation (not eval_on_start's, which the Trainer keeps from the scheduler): reduce_lr_on_plateau and
   * greedy step with the metric_for_best_model of the evaluation's metrics; the other schedulers ignore it.
   */
  afterEvaluate(metrics: Record<string, number>): void;
  /** What a checkpoint must keep to resume: the metric schedulers' state (updated in place), null for the others. */
  readonly state: MetricSchedulerState | null;
}

/**
 * The scheduler of a run of `num_training_steps` optimizer steps, as Trainer.create_scheduler builds it; `saved`
 * resumes a metric scheduler from a checkpoint's state. `log` gets the notes (settings transformers ignores too)
 * and greedy's verbose messages.
 */
export function createLrScheduler(
  options: ScheduleOptions,
  saved?: MetricSchedulerState | null,
  log: (message: string) => void = () => {},
): LrScheduler {
  const type = options.lr_scheduler_type;
  const ignoresWarmup = type === 'constant' || isMetricScheduler(type);
  if (ignoresWarmup && options.warmup_steps > 0)
    log(`note: lr_scheduler_type ${type} has no warmup (transformers ignores warmup_steps for it too)`);
  if (!isMetricScheduler(type)) {
    if (options.metric_for_best_model != null) {
      log(
        `note: metric_for_best_model has no effect with lr_scheduler_type ${type}: alignkit reads it only for reduce_lr_on_plateau ` +
          'and greedy (it keeps no best checkpoint)',
      );
    }
    const lambda = lrLambda(options);
    return { rateAt: (step) => options.learning_rate * lambda(step), afterEvaluate: () => {}, state: null };
  }
  const metric: MetricScheduler =
    type === 'greedy'
      ? greedyLr(resolveSchedulerKwargs({ ...options, lr_scheduler_type: type }), options.learning_rate, saved, log)
      : reduceLrOnPlateau(
          resolveSchedulerKwargs({ ...options, lr_scheduler_type: type }),
          options.learning_rate,
          saved,
        );
  // Trainer._evaluate: metric_for_best_model (TrainingArguments makes it 'loss' for these), 'eval_' prefixed.
  const name = options.metric_for_best_model ?? 'loss';
  const key = name.startsWith('eval_') ? name : `eval_${name}`;
  return {
    rateAt: () => metric.state.lr,
    afterEvaluate(metrics) {
      const value = metrics[key];
      if (typeof value !== 'number') {
        throw new AlignkitError(
          'ERR_INVALID_CONFIG',
          `metric_for_best_model: lr_scheduler_type ${type} steps with '${key}', which is not ` +
            `among the evaluation metrics (${Object.keys(metrics)
              .filter((k) => k.startsWith('eval_'))
              .join(', ')})`,
        );
      }
      metric.step(value);
    },
    state: metric.state,
  };
}

/** The learning rate of each 0-based optimizer step when no evaluation moves it. */
export function learningRateSchedule(options: ScheduleOptions): (step: number) => number {
  const scheduler = createLrScheduler(options);
  return (step) => scheduler.rateAt(step);
}
