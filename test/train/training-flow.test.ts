// When train() logs, evaluates and saves, against TRL 1.13's DPOTrainer (transformers 5.18's DefaultFlowCallback):
// 'epoch', 'steps' and 'no' strategies, logging_first_step, eval_on_start, runs that end mid-epoch, and the
// end-of-training summary. Every log_history entry is compared (keys and values: relative 1e-4 at step 1, 1e-3
// after), the checkpoint-N folders left, and the summary's speeds against TRL's num_train_samples. Recorded by
// scripts/fixtures/make_trl_dpo_flow.py: one pair repeated, so every micro-batch is the same whatever the shuffle.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train.js';
import { fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  rows: number;
  num_train_samples: number;
  checkpoints: string[];
  log_history: LogEntry[];
}
const { pair, cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-flow.json'), 'utf8')) as { pair: object; cases: Case[] };
const TIMINGS = ['train_runtime', 'train_samples_per_second', 'train_steps_per_second'];
const caseNamed = (name: string) => cases.find((c) => c.name === name)!;

function configFor(c: Case, dir: string): Record<string, unknown> {
  const data = join(dir, 'pairs.jsonl');
  writeFileSync(data, `${JSON.stringify(pair)}\n`.repeat(c.rows));
  return {
    trainer: 'dpo', model_name_or_path: modelDir('llama'), train_dataset: data, output_dir: dir,
    bf16: false, gradient_checkpointing: false, ...(c.config.eval_strategy ? { eval_dataset: data } : {}), ...c.config,
  };
}

const checkpointsIn = (dir: string) =>
  readdirSync(dir).filter((n) => /^checkpoint-\d+$/.test(n)).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));

describe('logging, evaluation and checkpoints follow the Trainer', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`flow-${c.name}`);
    const { logHistory } = await train(configFor(c, dir), { log: () => {} });
    expect(checkpointsIn(dir)).toEqual(c.checkpoints);
    const summary = logHistory.at(-1)!;
    expect(Object.keys(summary)).toEqual(expect.arrayContaining(TIMINGS));
    // count / runtime, up to the roundings (runtime to 4 decimals, the rate to 3).
    const expectRate = (rate: number, count: number, runtime: number) =>
      expect(Math.abs((rate * runtime) / count - 1)).toBeLessThanOrEqual(5e-5 / runtime + 5e-4 * runtime / count + 1e-9);
    expectRate(summary.train_samples_per_second!, c.num_train_samples, summary.train_runtime!);
    expectRate(summary.train_steps_per_second!, summary.step!, summary.train_runtime!);

    const actual = withoutTimings(logHistory);
    expect(actual.map((e) => `${e.step}:${Object.keys(e).sort().join(',')}`))
      .toEqual(c.log_history.map((e) => `${e.step}:${Object.keys(e).sort().join(',')}`));
    actual.forEach((entry, i) => {
      for (const [key, want] of Object.entries(c.log_history[i]!)) {
        const got = entry[key]!;
        const rel = entry.step! <= 1 ? 1e-4 : 1e-3;
        expect(Math.abs(got - want), `entry ${i} (step ${entry.step}) ${key}: ${got} vs ${want}`).toBeLessThanOrEqual(Math.max(rel * Math.abs(want), 1e-6));
      }
    });
  });
});

describe('resuming, and config errors', () => {
  it('stopped after an epoch\'s last step, before its end, resumes into the uninterrupted run', async () => {
    const c = caseNamed('epoch_strategies');
    const config = (dir: string) => ({ ...configFor(c, dir), save_strategy: 'no' });
    const uninterrupted = await train(config(tempDir('flow-full')), { log: () => {} });

    const dir = tempDir('flow-stopped');
    const controller = new AbortController();
    const stopped = await train(config(dir), {
      signal: controller.signal, log: () => {}, onStep: ({ step }) => { if (step === 3) controller.abort(); },
    });
    // The epoch's end (log, evaluate) comes after the checkpoint: the resumed run does it.
    expect(stopped).toMatchObject({ stopped: true, globalStep: 3, checkpoint: join(dir, 'checkpoint-3'), logHistory: [] });

    const resumed = await train({ ...config(dir), resume_from_checkpoint: true }, { log: () => {} });
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
    const written = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(written).toEqual(resumed.logHistory);
  });

  it('resume_from_checkpoint: true without a checkpoint names output_dir', async () => {
    const dir = tempDir('flow-none');
    await expect(train({ ...configFor(caseNamed('first_step_only'), dir), resume_from_checkpoint: true }))
      .rejects.toThrow(`resume_from_checkpoint: true, but output_dir ${dir} holds no checkpoint-N folder to resume from`);
  });

  it('refuses a fractional interval above 1, as TrainingArguments does, and eval_on_start without eval data', async () => {
    const config = configFor(caseNamed('first_step_only'), tempDir('flow-config'));
    await expect(train({ ...config, logging_strategy: 'steps', logging_steps: 2.5 }, { log: () => {} }))
      .rejects.toThrow('logging_steps must be an integer when above 1 (below 1 it is a fraction of max_steps), got 2.5');
    await expect(train({ ...config, eval_on_start: true }, { log: () => {} })).rejects.toThrow('config: eval_on_start needs an eval_dataset');
  });
});
