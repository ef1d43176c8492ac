// Every lr_scheduler_type against transformers 5.18, recorded by scripts/fixtures/make_lr_schedules.py: the
// Trainer's own create_scheduler on a torch AdamW, stepped as its training loop steps it (and, for
// reduce_lr_on_plateau / greedy, as Trainer._evaluate steps them with the eval metric).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLrScheduler } from '../../src/config/lr-scheduler-kwargs.js';
import { resolveConfig } from '../../src/config/load-config.js';
import {
  AlignkitError,
  createLrScheduler,
  learningRateSchedule,
  warmupStepsFor,
  type MetricSchedulerState,
  type SchedulerType,
} from '../../src/index.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface ScheduleCase {
  lr_scheduler_type: SchedulerType;
  lr_scheduler_kwargs: Record<string, unknown> | null;
  warmup_steps: number;
  learning_rate: number;
  num_training_steps: number;
  lrs: number[];
}

interface MetricScheduleCase extends ScheduleCase {
  metric_for_best_model: string | null;
  evaluations: { global_step: number; metrics: Record<string, number> }[];
}

const ref = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'lr-schedules.json'), 'utf8')) as {
  warmup_steps: { warmup_steps: number; num_training_steps: number; result: number }[];
  schedules: ScheduleCase[];
  metric_schedules: MetricScheduleCase[];
  refused: {
    lr_scheduler_type: SchedulerType;
    lr_scheduler_kwargs: Record<string, unknown> | null;
    learning_rate: number;
    eval_strategy: string;
    error: string;
  }[];
};

const label = (c: { lr_scheduler_type: string; lr_scheduler_kwargs: unknown; warmup_steps?: number }) =>
  `${c.lr_scheduler_type} ${JSON.stringify(c.lr_scheduler_kwargs)}${c.warmup_steps === undefined ? '' : `, warmup_steps ${c.warmup_steps}`}`;

describe('learning-rate schedules', () => {
  it('warmup_steps below 1 is a ratio of the total steps, as TrainingArguments.get_warmup_steps', () => {
    for (const { warmup_steps, num_training_steps, result } of ref.warmup_steps) {
      expect(warmupStepsFor(warmup_steps, num_training_steps), `${warmup_steps} of ${num_training_steps}`).toBe(result);
    }
  });

  it('the fixture covers every scheduler transformers 5.18 has', () => {
    const covered = new Set([...ref.schedules, ...ref.metric_schedules].map((c) => c.lr_scheduler_type));
    const all: SchedulerType[] = [
      'linear',
      'cosine',
      'cosine_with_restarts',
      'polynomial',
      'constant',
      'constant_with_warmup',
      'inverse_sqrt',
      'reduce_lr_on_plateau',
      'cosine_with_min_lr',
      'cosine_warmup_with_min_lr',
      'warmup_stable_decay',
      'greedy',
    ];
    expect([...covered].sort()).toEqual([...all].sort());
  });

  it.each(ref.schedules.map((c) => [label(c), c] as const))('%s: the rate of every step', (_name, c) => {
    const lrAt = learningRateSchedule(c);
    // Python floats and ours are both float64; only cos / pow may differ in the last bit.
    c.lrs.forEach((expected, step) => {
      expect(Math.abs(lrAt(step) - expected), `step ${step}: ${lrAt(step)} vs ${expected}`).toBeLessThanOrEqual(
        1e-12 * c.learning_rate,
      );
    });
  });

  it.each(ref.metric_schedules.map((c) => [label(c), c] as const))(
    '%s: the rate follows the evaluations',
    (_name, c) => {
      // Half way, the state goes through a checkpoint's JSON and a new scheduler resumes from it.
      const resumeAt = Math.floor(c.num_training_steps / 2);
      let scheduler = createLrScheduler(c);
      for (let step = 0; step < c.num_training_steps; step++) {
        if (step === resumeAt) {
          const saved = JSON.parse(JSON.stringify(scheduler.state)) as MetricSchedulerState;
          scheduler = createLrScheduler(c, saved);
        }
        expect(scheduler.rateAt(step), `step ${step}`).toBe(c.lrs[step]);
        const evaluation = c.evaluations.find((e) => e.global_step === step + 1);
        if (evaluation) scheduler.afterEvaluate({ ...evaluation.metrics, epoch: 1, step: step + 1 });
      }
      expect(new Set(c.lrs).size, 'the case moves the rate').toBeGreaterThan(1);
    },
  );

  it.each(ref.refused.map((c) => [label(c), c.error, c] as const))(
    '%s is refused at config load (transformers: %s)',
    (_n, _e, c) => {
      expect(() => checkLrScheduler(c)).toThrow(AlignkitError);
    },
  );

  it('an argument of another scheduler is refused naming the ones it takes', () => {
    const config = (lr_scheduler_type: string, lr_scheduler_kwargs: object) => ({
      trainer: 'dpo',
      lr_scheduler_type,
      lr_scheduler_kwargs,
      eval_strategy: 'steps',
      eval_dataset: 'e.jsonl',
    });
    expect(() => resolveConfig(config('cosine', { power: 2 }), 'recipe.yaml')).toThrow(
      "recipe.yaml: lr_scheduler_kwargs: unknown key 'power' for lr_scheduler_type cosine, which takes num_cycles",
    );
    expect(() => resolveConfig(config('linear', { num_cycles: 1 }))).toThrow(
      /lr_scheduler_type linear, which takes no arguments/,
    );
    expect(() => resolveConfig(config('reduce_lr_on_plateau', { patiance: 2 }))).toThrow(/did you mean 'patience'/);
    expect(() => resolveConfig(config('cosine_with_min_lr', { min_lr_rate: 'high' }))).toThrow(
      /'min_lr_rate' must be a number/,
    );
    expect(() => resolveConfig(config('warmup_stable_decay', {}))).toThrow(/needs num_decay_steps/);
    expect(
      resolveConfig(config('warmup_stable_decay', { num_decay_steps: 10, decay_type: 'linear' })).lr_scheduler_kwargs,
    ).toEqual({ num_decay_steps: 10, decay_type: 'linear' });
  });

  it('a metric scheduler steps with eval_<metric_for_best_model> and says when the evaluation has none', () => {
    const base = {
      learning_rate: 1,
      warmup_steps: 0,
      num_training_steps: 10,
      lr_scheduler_kwargs: { patience: 0, factor: 0.5 },
    };
    const byAccuracy = createLrScheduler({
      ...base,
      lr_scheduler_type: 'reduce_lr_on_plateau',
      metric_for_best_model: 'eval_accuracy',
    });
    byAccuracy.afterEvaluate({ eval_loss: 1, eval_accuracy: 2 });
    byAccuracy.afterEvaluate({ eval_loss: 0.5, eval_accuracy: 3 }); // min mode: a higher accuracy is worse
    expect(byAccuracy.rateAt(2)).toBe(0.5);
    const missing = createLrScheduler({
      ...base,
      lr_scheduler_type: 'greedy',
      metric_for_best_model: 'rewards/margins',
    });
    expect(() => missing.afterEvaluate({ eval_loss: 1, epoch: 1 })).toThrow(
      "metric_for_best_model: lr_scheduler_type greedy steps with 'eval_rewards/margins', which is not among the evaluation metrics (eval_loss)",
    );
  });

  it('warmup_steps on a scheduler without warmup, metric_for_best_model on one without a metric, are notes', () => {
    const notes: string[] = [];
    const s = createLrScheduler(
      { lr_scheduler_type: 'reduce_lr_on_plateau', learning_rate: 1, warmup_steps: 0.1, num_training_steps: 10 },
      null,
      (m) => notes.push(m),
    );
    expect(s.rateAt(0)).toBe(1);
    expect(notes).toEqual([
      'note: lr_scheduler_type reduce_lr_on_plateau has no warmup (transformers ignores warmup_steps for it too)',
    ]);
    createLrScheduler(
      {
        lr_scheduler_type: 'cosine',
        learning_rate: 1,
        warmup_steps: 0,
        num_training_steps: 10,
        metric_for_best_model: 'loss',
      },
      null,
      (m) => notes.push(m),
    );
    expect(notes[1]).toMatch(/^note: metric_for_best_model has no effect with lr_scheduler_type cosine/);
  });

  it('reduce_lr_on_plateau and greedy need an evaluation strategy', () => {
    for (const lr_scheduler_type of ['reduce_lr_on_plateau', 'greedy'] as const) {
      expect(() => resolveConfig({ trainer: 'sft', lr_scheduler_type })).toThrow(
        /needs eval_strategy 'steps' or 'epoch'/,
      );
    }
  });
});
