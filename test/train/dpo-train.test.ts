// train() against TRL 1.13's DPOTrainer.train() on the llama fixture: every logged value of every step
// (loss, grad_norm, learning_rate, epoch, TRL's metrics, eval_*), relative 1e-4 at step 1 and 1e-3 through
// step 5. Recorded by scripts/fixtures/make_trl_dpo_train.py (also shuffled batches across epochs: same row order).
// (The end-of-training summary entry is tested in training-flow.test.ts.) Then resuming from a checkpoint continues
// exactly as the uninterrupted run, also with sync_ref_model (whose checkpoints hold the synced reference).
//
// The bf16 case (bf16 autocast, TRL's CPU default, with gradient checkpointing) runs the same ops in the same
// dtypes as TRL, so the bfloat16 roundings agree: step 1 holds to 1e-4 (measured 7e-8). Later steps drift where a
// float32 difference in summation order moves a value across a bfloat16 rounding boundary, and AdamW amplifies
// it: its first updates move each weight by about ±lr whatever its gradient's size, so a rounding that flips the
// sign of a near-zero gradient element moves that weight by 2·lr. Measured (with the lm_head backward's products
// on oneDNN's bf32 path, fused_linear_logprobs.cpp, which sums in another order than MKL's float32 matmul): ≤ 1.6e-7
// through step 3, 6e-5 at step 4, ≤ 1.1e-2 at step 5 and its eval, where the vocabulary-mean logits (logits/chosen
// ≈ -0.002, a mean of O(1) logits that cancel) differ by up to 1.7e-4 absolute. Bound after step 1: 1e-2 relative,
// 2.5e-4 absolute.
import { readFileSync, writeFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import type { DpoConfig } from '../../src/types/config-types.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  pairs: number;
  log_history: LogEntry[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-train.json'), 'utf8')) as { cases: Case[] };

function configFor(c: Case, dir: string): DpoConfig {
  const data = join(dir, 'pairs.jsonl');
  const lines = readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, c.pairs);
  writeFileSync(data, lines.join('\n') + '\n');
  return {
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: dir,
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    // TRL recorded its default (false); unwritten, alignkit precomputes when the data is reused (auto-precompute.ts).
    precompute_ref_log_probs: false,
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}),
    ...c.config,
  } as DpoConfig;
}

// The training and eval entries (the last entry is the end-of-training summary).
function expectLogsClose(c: Case, logHistory: LogEntry[]) {
  const logs = logHistory.slice(0, -1);
  expect(logHistory.at(-1)).toHaveProperty('train_loss');
  expect(logs.length).toBe(c.log_history.length);
  logs.forEach((entry, i) => {
    const [rel, abs] = entry.step === 1 ? [1e-4, 1e-6] : c.config.bf16 ? [1e-2, 2.5e-4] : [1e-3, 1e-6];
    expectLogEntryClose(entry, c.log_history[i]!, rel, abs);
  });
}

describe('DPO training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`dpo-${c.name}`);
    const { logHistory, globalStep } = await train(configFor(c, dir), { log: () => {} });
    expect(globalStep).toBe(5);
    const written = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(written).toEqual(logHistory);
    expectLogsClose(c, logHistory);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  });
});

describe('precision', () => {
  it('bf16 unset trains under bf16 autocast, as TRL defaults it, and says so', async () => {
    const c = cases.find((x) => x.name === 'bf16_checkpointing')!;
    const notes: string[] = [];
    const { logHistory } = await train(
      { ...configFor(c, tempDir('dpo-bf16-unset')), bf16: null },
      { log: (m) => notes.push(m) },
    );
    expect(notes.filter((n) => /bf16 is unset/.test(n))).toHaveLength(1);
    expectLogsClose(c, logHistory);
  });
});

describe('checkpoints', () => {
  it('resuming from checkpoint-2 gives the uninterrupted run, bit for bit', async () => {
    const c = cases.find((x) => x.name === 'accumulation')!;
    const full = tempDir('dpo-full');
    const uninterrupted = await train(
      { ...configFor(c, full), save_strategy: 'steps', save_steps: 2, save_total_limit: 2 },
      { log: () => {} },
    );
    expect(
      readdirSync(full)
        .filter((n) => n.startsWith('checkpoint-'))
        .sort(),
    ).toEqual(['checkpoint-4', 'checkpoint-5']);

    const first = tempDir('dpo-first');
    const controller = new AbortController();
    const stoppedRun = await train(
      { ...configFor(c, first), save_strategy: 'steps', save_steps: 100 },
      {
        signal: controller.signal,
        log: () => {},
        onLog: (entry) => {
          if (entry.step === 2) controller.abort();
        },
      },
    );
    expect(stoppedRun.stopped).toBe(true);
    expect(stoppedRun.checkpoint).toBe(join(first, 'checkpoint-2'));
    expect(readdirSync(first).some((n) => n.endsWith('.tmp'))).toBe(false);

    const resumed = await train(
      { ...configFor(c, first), resume_from_checkpoint: stoppedRun.checkpoint },
      { log: () => {} },
    );
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });

  it('sync_ref_model: resuming from checkpoint-3 restores the synced reference and continues exactly', async () => {
    const c = cases.find((x) => x.name === 'sync_ref_model')!;
    const uninterrupted = await train(configFor(c, tempDir('dpo-sync-full')), { log: () => {} });

    const first = tempDir('dpo-sync-first');
    const controller = new AbortController();
    const stoppedRun = await train(
      { ...configFor(c, first), save_strategy: 'steps', save_steps: 100 },
      {
        signal: controller.signal,
        log: () => {},
        onLog: (entry) => {
          if (entry.step === 3 && 'loss' in entry) controller.abort();
        },
      },
    );
    expect(stoppedRun.checkpoint).toBe(join(first, 'checkpoint-3'));
    expect(existsSync(join(first, 'checkpoint-3', 'ref_model', 'model.safetensors'))).toBe(true);

    const resumed = await train(
      { ...configFor(c, first), resume_from_checkpoint: stoppedRun.checkpoint },
      { log: () => {} },
    );
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));

    rmSync(join(first, 'checkpoint-3', 'ref_model'), { recursive: true });
    await expect(
      train({ ...configFor(c, first), resume_from_checkpoint: stoppedRun.checkpoint }, { log: () => {} }),
    ).rejects.toThrow(/ref_model/);
  });

  it('refuses options it does not implement, and what TRL refuses', async () => {
    const c = cases[0]!;
    await expect(train({ ...configFor(c, tempDir('dpo-fp16')), fp16: true })).rejects.toThrow(
      /fp16 mixed precision is not implemented/,
    );
    await expect(
      train({ ...configFor(c, tempDir('dpo-sync')), sync_ref_model: true, precompute_ref_log_probs: true }),
    ).rejects.toThrow(/sync_ref_model cannot be combined with precompute_ref_log_probs/);
  });
});
