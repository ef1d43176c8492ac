// When train() logs, evaluates and saves, against TRL 1.13's DPOTrainer (transformers 5.18's DefaultFlowCallback):
// 'epoch', 'steps' and 'no' strategies, logging_first_step, eval_on_start, runs that end mid-epoch, and the
// end-of-training summary. Every log_history entry is compared (keys and values: relative 1e-4 at step 1, 1e-3
// after), the checkpoint-N folders left, and the summary's speeds against TRL's num_train_samples. Recorded by
// scripts/fixtures/make_trl_dpo_flow.py: one pair repeated, so every micro-batch is the same whatever the shuffle.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import type { DpoConfig } from '../../src/types/config-types.js';
import { fixturesDir, flowConfig, tempDir, withoutTimings } from '../helpers/fixtures.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  rows: number;
  num_train_samples: number;
  checkpoints: string[];
  log_history: LogEntry[];
}
const { pair, cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-flow.json'), 'utf8')) as {
  pair: object;
  cases: Case[];
};
const TIMINGS = ['train_runtime', 'train_samples_per_second', 'train_steps_per_second'];
const caseNamed = (name: string) => cases.find((c) => c.name === name)!;

const configFor = (c: Case, dir: string) => flowConfig(pair, c, dir);

const checkpointsIn = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^checkpoint-\d+$/.test(n))
    .sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));

describe('logging, evaluation and checkpoints follow the Trainer', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`flow-${c.name}`);
    const { logHistory } = await train(configFor(c, dir), { log: () => {} });
    expect(checkpointsIn(dir)).toEqual(c.checkpoints);
    const summary = logHistory.at(-1)!;
    expect(Object.keys(summary)).toEqual(expect.arrayContaining(TIMINGS));
    // count / runtime, up to the roundings (runtime to 4 decimals, the rate to 3).
    const expectRate = (rate: number, count: number, runtime: number) =>
      expect(Math.abs((rate * runtime) / count - 1)).toBeLessThanOrEqual(
        5e-5 / runtime + (5e-4 * runtime) / count + 1e-9,
      );
    expectRate(summary.train_samples_per_second!, c.num_train_samples, summary.train_runtime!);
    expectRate(summary.train_steps_per_second!, summary.step!, summary.train_runtime!);

    const actual = withoutTimings(logHistory);
    expect(actual.map((e) => `${e.step}:${Object.keys(e).sort().join(',')}`)).toEqual(
      c.log_history.map((e) => `${e.step}:${Object.keys(e).sort().join(',')}`),
    );
    actual.forEach((entry, i) => {
      for (const [key, want] of Object.entries(c.log_history[i]!)) {
        const got = entry[key]!;
        const rel = entry.step! <= 1 ? 1e-4 : 1e-3;
        expect(Math.abs(got - want), `entry ${i} (step ${entry.step}) ${key}: ${got} vs ${want}`).toBeLessThanOrEqual(
          Math.max(rel * Math.abs(want), 1e-6),
        );
      }
    });
  });
});

describe('resuming, and config errors', () => {
  it('ignore_data_skip: resumed mid-epoch, the epoch starts over from its first batch (the Trainer skips none)', async () => {
    // 3 steps an epoch, 6 in all; stopped after step 2. Skipping, the resumed run ends epoch 2 at step 6; starting
    // epoch 1 over, it spends steps 3-5 on epoch 1 and step 6 on the first third of epoch 2.
    const c = caseNamed('epoch_strategies');
    const lastEpoch = async (ignore_data_skip: boolean) => {
      const dir = tempDir(`flow-skip-${ignore_data_skip}`);
      const config: DpoConfig = { ...configFor(c, dir), save_strategy: 'no', ignore_data_skip };
      const controller = new AbortController();
      await train(config, {
        signal: controller.signal,
        log: () => {},
        onStep: ({ step }) => {
          if (step === 2) controller.abort();
        },
      });
      const resumed = await train({ ...config, resume_from_checkpoint: true }, { log: () => {} });
      expect(resumed.globalStep).toBe(6);
      return resumed.logHistory.at(-1)!.epoch!;
    };
    expect(await lastEpoch(false)).toBe(2);
    expect(await lastEpoch(true)).toBeCloseTo(4 / 3, 10);
  });

  it("stopped after an epoch's last step, before its end, resumes into the uninterrupted run", async () => {
    const c = caseNamed('epoch_strategies');
    const config = (dir: string): DpoConfig => ({ ...configFor(c, dir), save_strategy: 'no' });
    const uninterrupted = await train(config(tempDir('flow-full')), { log: () => {} });

    const dir = tempDir('flow-stopped');
    const controller = new AbortController();
    const stopped = await train(config(dir), {
      signal: controller.signal,
      log: () => {},
      onStep: ({ step }) => {
        if (step === 3) controller.abort();
      },
    });
    // The epoch's end (log, evaluate) comes after the checkpoint: the resumed run does it.
    expect(stopped).toMatchObject({
      stopped: true,
      globalStep: 3,
      checkpoint: join(dir, 'checkpoint-3'),
      logHistory: [],
    });

    const resumed = await train({ ...config(dir), resume_from_checkpoint: true }, { log: () => {} });
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
    const written = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(written).toEqual(resumed.logHistory);
  });

  it('resume_from_checkpoint: true without a checkpoint names output_dir', async () => {
    const dir = tempDir('flow-none');
    await expect(
      train({ ...configFor(caseNamed('first_step_only'), dir), resume_from_checkpoint: true }),
    ).rejects.toThrow(
      `resume_from_checkpoint: true, but output_dir ${dir} holds no checkpoint-N folder to resume from`,
    );
  });

  it('refuses a fractional interval above 1, as TrainingArguments does, and eval_on_start without eval data', async () => {
    const config = configFor(caseNamed('first_step_only'), tempDir('flow-config'));
    await expect(
      train({ ...config, logging_strategy: 'steps', logging_steps: 2.5 }, { log: () => {} }),
    ).rejects.toThrow('logging_steps must be an integer when above 1 (below 1 it is a fraction of max_steps), got 2.5');
    await expect(train({ ...config, eval_on_start: true }, { log: () => {} })).rejects.toThrow(
      'config: eval_on_start needs an eval_dataset',
    );
  });
});
