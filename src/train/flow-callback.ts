// When the trainer logs, evaluates and saves: transformers 5.18's DefaultFlowCallback, after each optimizer step
// (on_step_end) and at the end of each epoch (on_epoch_end, also when max_steps ends the last epoch early). The
// loop acts in _maybe_log_save_evaluate's order: log, then evaluate, then save.
import { configError } from '../errors.js';

type Strategy = 'no' | 'steps' | 'epoch';

export interface FlowConfig {
  logging_strategy: Strategy;
  logging_steps: number;
  logging_first_step: boolean;
  eval_strategy: Strategy;
  eval_steps: number | null;
  /** No evaluation (but eval_on_start's) before this many steps ('steps') or epochs ('epoch'). */
  eval_delay: number;
  save_strategy: Strategy;
  save_steps: number;
}

export interface FlowActions {
  log: boolean;
  evaluate: boolean;
  save: boolean;
}

/** What the loop does after a step and at an epoch's end. */
export interface FlowCallback {
  afterStep(step: number): FlowActions;
  /** `epoch`: the epochs done, as TrainerState.epoch counts them. */
  atEpochEnd(epoch: number): FlowActions;
}

/** TrainingArguments.__post_init__ checks a 'steps' interval; TrainerState.compute_steps reads one below 1 as a fraction of max_steps. */
function interval(key: string, value: number, maxSteps: number): number {
  if (value > 1 && !Number.isInteger(value))
    throw configError(`${key} must be an integer when above 1 (below 1 it is a fraction of max_steps), got ${value}`);
  return value < 1 ? Math.ceil(maxSteps * value) : value;
}

export function flowCallback(config: FlowConfig, maxSteps: number): FlowCallback {
  if (config.logging_strategy === 'steps' && config.logging_steps === 0)
    throw configError("logging_strategy 'steps' needs logging_steps above 0");
  // eval_steps unset (or 0) takes logging_steps.
  const evalEvery = config.eval_steps || config.logging_steps;
  if (config.eval_strategy === 'steps' && evalEvery === 0)
    throw configError("eval_strategy 'steps' needs eval_steps (or logging_steps) above 0");
  const every = (strategy: Strategy, key: string, value: number) =>
    strategy === 'steps' ? interval(key, value, maxSteps) : 0;
  const loggingSteps = every(config.logging_strategy, 'logging_steps', config.logging_steps);
  const evalSteps = every(config.eval_strategy, config.eval_steps ? 'eval_steps' : 'logging_steps', evalEvery);
  const saveSteps = every(config.save_strategy, 'save_steps', config.save_steps);
  return {
    afterStep(step) {
      const due = (steps: number) => steps > 0 && step % steps === 0;
      const last = step >= maxSteps;
      return {
        log: (step === 1 && config.logging_first_step) || due(loggingSteps),
        // The last step also evaluates and saves under 'steps' (transformers 5), off the interval or not.
        evaluate: config.eval_strategy === 'steps' && (due(evalSteps) || last) && config.eval_delay <= step,
        save: config.save_strategy === 'steps' && (due(saveSteps) || last),
      };
    },
    atEpochEnd: (epoch) => ({
      log: config.logging_strategy === 'epoch',
      evaluate: config.eval_strategy === 'epoch' && config.eval_delay <= epoch,
      save: config.save_strategy === 'epoch',
    }),
  };
}
