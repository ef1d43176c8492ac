// The learning-rate schedulers the Trainer steps with an eval metric after each evaluation (Trainer._evaluate), not
// after each optimizer step: torch's ReduceLROnPlateau (lower the rate when the metric stops improving) and
// transformers 5.18's GreedyLR (also raise it while the metric keeps improving). Ported line for line; the rate is
// one number where torch keeps one per parameter group (the Trainer's groups all start at learning_rate and get the
// same updates, and it logs the first group's).
// The state is a plain JSON object that the scheduler updates in place, so a checkpoint's trainer_state.json holds it.
import type { SchedulerKwargs } from '../config/lr-scheduler-kwargs.js';

/** The part of torch's / GreedyLR's state_dict that changes as they step, plus the optimizer's current rate. */
export interface MetricSchedulerState {
  lr: number;
  /** The best metric so far; null before the first one (torch's ±inf, which JSON cannot hold). */
  best: number | null;
  num_bad_epochs: number;
  cooldown_counter: number;
  /** Evaluations seen (torch's last_epoch). */
  last_epoch: number;
  /** GreedyLR only. */
  num_good_epochs?: number;
  warmup_counter?: number;
  reset_start?: number;
  /** GreedyLR's StreamingAverage window (smooth: true). */
  values?: number[];
  sum?: number;
}

export interface MetricScheduler {
  readonly state: MetricSchedulerState;
  step(metric: number): void;
}

type Mode = 'min' | 'max';

/** The `_is_better` both share: `current` beats `best` by more than the threshold. */
function isBetter(mode: Mode, thresholdMode: 'rel' | 'abs', threshold: number, current: number, best: number): boolean {
  if (mode === 'min') return thresholdMode === 'rel' ? current < best * (1.0 - threshold) : current < best - threshold;
  return thresholdMode === 'rel' ? current > best * (threshold + 1.0) : current > best + threshold;
}

const worst = (mode: Mode) => (mode === 'min' ? Infinity : -Infinity);

/** torch.optim.lr_scheduler.ReduceLROnPlateau.step. */
export function reduceLrOnPlateau(
  kw: SchedulerKwargs<'reduce_lr_on_plateau'>,
  learning_rate: number,
  saved?: MetricSchedulerState | null,
): MetricScheduler {
  const state: MetricSchedulerState = saved ?? {
    lr: learning_rate,
    best: null,
    num_bad_epochs: 0,
    cooldown_counter: 0,
    last_epoch: 0,
  };
  return {
    state,
    step(metric) {
      state.last_epoch += 1;
      if (isBetter(kw.mode, kw.threshold_mode, kw.threshold, metric, state.best ?? worst(kw.mode))) {
        state.best = metric;
        state.num_bad_epochs = 0;
      } else {
        state.num_bad_epochs += 1;
      }
      if (state.cooldown_counter > 0) {
        state.cooldown_counter -= 1;
        state.num_bad_epochs = 0; // bad epochs in cooldown do not count
      }
      if (state.num_bad_epochs > kw.patience) {
        const lr = Math.max(state.lr * kw.factor, kw.min_lr);
        if (state.lr - lr > kw.eps) state.lr = lr;
        state.cooldown_counter = kw.cooldown;
        state.num_bad_epochs = 0;
      }
    },
  };
}

/** transformers.optimization.GreedyLR.step (and its StreamingAverage when smooth). `log` gets what verbose prints. */
export function greedyLr(
  kw: SchedulerKwargs<'greedy'>,
  learning_rate: number,
  saved?: MetricSchedulerState | null,
  log: (message: string) => void = () => {},
): MetricScheduler {
  const fresh = (): MetricSchedulerState => ({
    lr: learning_rate,
    best: null,
    num_bad_epochs: 0,
    num_good_epochs: 0,
    cooldown_counter: 0,
    warmup_counter: 0,
    last_epoch: 0,
    reset_start: kw.reset_start,
    values: [],
    sum: 0,
  });
  const state = saved ?? fresh();
  const verbose = (message: string) => kw.verbose && log(message);

  const streamingAverage = (value: number) => {
    state.values!.push(value);
    state.sum! += value;
    if (state.values!.length > kw.window_size) state.sum! -= state.values!.shift()!;
    return state.sum! / state.values!.length;
  };
  const reset = () => {
    const { last_epoch } = state;
    Object.assign(state, fresh(), { last_epoch });
    verbose('Scheduler reset to initial state.');
  };
  const reduce = (epoch: number) => {
    const lr = Math.max(state.lr * kw.factor, kw.min_lr);
    if (state.lr - lr > kw.eps) {
      state.lr = lr;
      verbose(`Epoch ${epoch}: reducing learning rate to ${pythonExp4(lr)}.`);
    }
    if (!(state.lr > kw.min_lr)) {
      state.reset_start! -= 1;
      if (state.reset_start! <= 0) reset();
    }
  };
  const increase = (epoch: number) => {
    const lr = Math.min(state.lr / kw.factor, kw.max_lr);
    if (lr - state.lr > kw.eps) {
      state.lr = lr;
      verbose(`Epoch ${epoch}: increasing learning rate to ${pythonExp4(lr)}.`);
    }
    state.reset_start = kw.reset_start;
  };

  return {
    state,
    step(metric) {
      const current = kw.smooth ? streamingAverage(metric) : metric;
      const epoch = (state.last_epoch += 1);
      if (state.cooldown_counter > 0) {
        state.cooldown_counter -= 1;
        state.num_bad_epochs = state.num_good_epochs = 0;
      } else if (state.warmup_counter! > 0) {
        state.warmup_counter! -= 1;
        state.num_bad_epochs = state.num_good_epochs = 0;
      } else {
        if (isBetter(kw.mode, kw.threshold_mode, kw.threshold, current, state.best ?? worst(kw.mode))) {
          state.best = current;
          state.num_bad_epochs = 0;
          state.num_good_epochs! += 1;
        } else {
          state.num_bad_epochs += 1;
          state.num_good_epochs = 0;
        }
        if (state.num_good_epochs! > kw.patience) {
          increase(epoch);
          state.warmup_counter = kw.warmup;
          state.num_good_epochs = 0;
        } else if (state.num_bad_epochs > kw.patience) {
          reduce(epoch);
          state.cooldown_counter = kw.cooldown;
          state.num_bad_epochs = 0;
        }
      }
    },
  };
}

/** Python's `f"{x:.4e}"` (two-digit exponent), as GreedyLR's verbose messages print rates. */
function pythonExp4(x: number): string {
  const [mantissa, exponent] = x.toExponential(4).split('e') as [string, string];
  const sign = exponent.startsWith('-') ? '-' : '+';
  return `${mantissa}e${sign}${exponent.replace(/^[-+]/, '').padStart(2, '0')}`;
}
