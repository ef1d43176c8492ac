// The HF schedulers against transformers 5.18's get_scheduler + LambdaLR, recorded by
// scripts/fixtures/make_optim_reference.py as the learning rate of each optimizer step (what the Trainer logs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlignkitError, learningRateSchedule, warmupStepsFor, type SchedulerType } from '../../src/index.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface ScheduleCase {
  lr_scheduler_type: SchedulerType;
  warmup_steps: number;
  learning_rate: number;
  num_training_steps: number;
  lrs: number[];
}

const ref = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'optim.json'), 'utf8')) as {
  schedules: ScheduleCase[];
  warmup_steps: { warmup_steps: number; num_training_steps: number; result: number }[];
};

describe('learning-rate schedules', () => {
  it.each(ref.schedules.map((c) => [c.lr_scheduler_type, c.warmup_steps, c] as const))('%s, warmup_steps %s', (_t, _w, c) => {
    const lrAt = learningRateSchedule(c);
    c.lrs.forEach((expected, step) => {
      expect(Math.abs(lrAt(step) - expected), `step ${step}`).toBeLessThanOrEqual(1e-12 * c.learning_rate);
    });
  });

  it('warmup_steps below 1 is a ratio of the total steps, as TrainingArguments.get_warmup_steps', () => {
    for (const { warmup_steps, num_training_steps, result } of ref.warmup_steps) {
      expect(warmupStepsFor(warmup_steps, num_training_steps)).toBe(result);
    }
  });

  it('cosine takes num_cycles; unknown scheduler arguments are errors naming the key', () => {
    const base = { learning_rate: 1, warmup_steps: 0, num_training_steps: 10 };
    const full = learningRateSchedule({ ...base, lr_scheduler_type: 'cosine', lr_scheduler_kwargs: { num_cycles: 1 } });
    expect(full(5)).toBeCloseTo(0, 12);
    expect(() => learningRateSchedule({ ...base, lr_scheduler_type: 'linear', lr_scheduler_kwargs: { num_cycles: 1 } }))
      .toThrow(AlignkitError);
    expect(() => learningRateSchedule({ ...base, lr_scheduler_type: 'cosine', lr_scheduler_kwargs: { power: 2 } }))
      .toThrow(/lr_scheduler_kwargs\.power/);
  });
});
