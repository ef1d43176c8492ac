// train() against TRL 1.13's DPOTrainer.train() on the llama fixture: every logged value of every step
// (loss, grad_norm, learning_rate, epoch, TRL's metrics, eval_*), relative 1e-4 at step 1 and 1e-3 through
// step 5. Recorded by scripts/fixtures/make_trl_dpo_train.py (also shuffled batches across epochs: same row order).
// (The end-of-training summary entry is tested in training-flow.test.ts.) Then resuming from a checkpoint continues
// exactly as the uninterrupted run, also with sync_ref_model (whose checkpoints hold the synced reference).
import { readFileSync, writeFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/dpo.js';
import { fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  pairs: number;
  log_history: LogEntry[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-train.json'), 'utf8')) as { cases: Case[] };

function configFor(c: Case, dir: string): Record<string, unknown> {
  const data = join(dir, 'pairs.jsonl');
  const lines = readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl'), 'utf8').trim().split('\n').slice(0, c.pairs);
  writeFileSync(data, lines.join('\n') + '\n');
  return {
    trainer: 'dpo', model_name_or_path: modelDir('llama'), train_dataset: data, output_dir: dir,
    bf16: false, gradient_checkpointing: false, save_strategy: 'no',
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}), ...c.config,
  };
}

function expectClose(actual: LogEntry, expected: LogEntry, rel: number) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key]!;
    // Rewards and margins start at exactly 0 (policy = reference): an absolute floor there.
    expect(Math.abs(got - want), `step ${expected.step} ${key}: ${got} vs ${want}`).toBeLessThanOrEqual(Math.max(rel * Math.abs(want), 1e-6));
  }
}

describe('DPO training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`dpo-${c.name}`);
    const { logHistory, globalStep } = await train(configFor(c, dir), { log: () => {} });
    expect(globalStep).toBe(5);
    const written = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(written).toEqual(logHistory);
    const logs = logHistory.slice(0, -1);
    expect(logHistory.at(-1)).toHaveProperty('train_loss');
    expect(logs.length).toBe(c.log_history.length);
    logs.forEach((entry, i) => expectClose(entry, c.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-3));
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  });
});

describe('checkpoints', () => {
  it('resuming from checkpoint-2 gives the uninterrupted run, bit for bit', async () => {
    const c = cases.find((x) => x.name === 'accumulation')!;
    const full = tempDir('dpo-full');
    const uninterrupted = await train({ ...configFor(c, full), save_strategy: 'steps', save_steps: 2, save_total_limit: 2 }, { log: () => {} });
    expect(readdirSync(full).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-4', 'checkpoint-5']);

    const first = tempDir('dpo-first');
    const controller = new AbortController();
    const stoppedRun = await train({ ...configFor(c, first), save_strategy: 'steps', save_steps: 100 }, {
      signal: controller.signal, log: () => {}, onLog: (entry) => { if (entry.step === 2) controller.abort(); },
    });
    expect(stoppedRun.stopped).toBe(true);
    expect(stoppedRun.checkpoint).toBe(join(first, 'checkpoint-2'));
    expect(readdirSync(first).some((n) => n.endsWith('.tmp'))).toBe(false);

    const resumed = await train({ ...configFor(c, first), resume_from_checkpoint: stoppedRun.checkpoint }, { log: () => {} });
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });

  it('sync_ref_model: resuming from checkpoint-3 restores the synced reference and continues exactly', async () => {
    const c = cases.find((x) => x.name === 'sync_ref_model')!;
    const uninterrupted = await train(configFor(c, tempDir('dpo-sync-full')), { log: () => {} });

    const first = tempDir('dpo-sync-first');
    const controller = new AbortController();
    const stoppedRun = await train({ ...configFor(c, first), save_strategy: 'steps', save_steps: 100 }, {
      signal: controller.signal, log: () => {}, onLog: (entry) => { if (entry.step === 3 && 'loss' in entry) controller.abort(); },
    });
    expect(stoppedRun.checkpoint).toBe(join(first, 'checkpoint-3'));
    expect(existsSync(join(first, 'checkpoint-3', 'ref_model', 'model.safetensors'))).toBe(true);

    const resumed = await train({ ...configFor(c, first), resume_from_checkpoint: stoppedRun.checkpoint }, { log: () => {} });
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));

    rmSync(join(first, 'checkpoint-3', 'ref_model'), { recursive: true });
    await expect(train({ ...configFor(c, first), resume_from_checkpoint: stoppedRun.checkpoint }, { log: () => {} }))
      .rejects.toThrow(/ref_model/);
  });

  it('refuses options it does not implement, and what TRL refuses', async () => {
    const c = cases[0]!;
    await expect(train({ ...configFor(c, tempDir('dpo-bf16')), bf16: true })).rejects.toThrow(/bf16/);
    await expect(train({ ...configFor(c, tempDir('dpo-sync')), sync_ref_model: true, precompute_ref_log_probs: true }))
      .rejects.toThrow(/sync_ref_model cannot be combined with precompute_ref_log_probs/);
  });
});
