// Schedulers inside train(), against TRL 1.13's DPOTrainer (scripts/fixtures/make_trl_lr_schedulers.py): the
// logged learning_rate of every step, reduce_lr_on_plateau / greedy stepped with the eval metric after each
// evaluation (not eval_on_start's), and their state carried through a checkpoint. Every log entry is compared
// (learning_rate to 1e-12, the rest as the training-flow test: relative 1e-4 at step 1, 1e-3 after).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { fixturesDir, flowConfig, tempDir, withoutTimings } from '../helpers/fixtures.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  rows: number;
  log_history: LogEntry[];
}
const { pair, cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'lr-scheduler-flow.json'), 'utf8')) as {
  pair: object;
  cases: Case[];
};

const configFor = (c: Case, dir: string) => flowConfig(pair, c, dir);

function expectLogHistory(actual: LogEntry[], expected: LogEntry[]): void {
  expect(actual.map((e) => `${e.step}:${Object.keys(e).sort().join(',')}`)).toEqual(
    expected.map((e) => `${e.step}:${Object.keys(e).sort().join(',')}`),
  );
  actual.forEach((entry, i) => {
    for (const [key, want] of Object.entries(expected[i]!)) {
      const got = entry[key]!;
      const rel = key === 'learning_rate' ? 1e-12 : entry.step! <= 1 ? 1e-4 : 1e-3;
      expect(Math.abs(got - want), `entry ${i} (step ${entry.step}) ${key}: ${got} vs ${want}`).toBeLessThanOrEqual(
        key === 'learning_rate' ? rel * Math.abs(want) + 1e-18 : Math.max(rel * Math.abs(want), 1e-6),
      );
    }
  });
}

describe('schedulers in a training run follow the Trainer', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const { logHistory } = await train(configFor(c, tempDir(`lr-${c.name}`)), { log: () => {} });
    expectLogHistory(withoutTimings(logHistory), c.log_history);
    expect(
      new Set(c.log_history.map((e) => e.learning_rate).filter((lr) => lr !== undefined)).size,
      'the rate moves',
    ).toBeGreaterThan(1);
  });

  it('reduce_lr_on_plateau resumes from a checkpoint with its best metric and counters', async () => {
    const c = cases.find((k) => k.name === 'reduce_lr_on_plateau')!;
    const first = tempDir('lr-plateau-first');
    await train(configFor(c, first), { log: () => {} });
    const state = JSON.parse(readFileSync(join(first, 'checkpoint-4', 'trainer_state.json'), 'utf8')) as {
      lr_scheduler: object;
    };
    expect(state.lr_scheduler).toMatchObject({ last_epoch: 4, num_bad_epochs: 0, cooldown_counter: 0 });

    const resumed = await train(
      { ...configFor(c, tempDir('lr-plateau-resumed')), resume_from_checkpoint: join(first, 'checkpoint-4') },
      { log: () => {} },
    );
    expectLogHistory(withoutTimings(resumed.logHistory), c.log_history);
  });
});
