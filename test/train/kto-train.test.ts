// train() with trainer: kto against TRL 1.13's KTOTrainer.train() on the llama fixture: every logged value of every
// step (loss, grad_norm, learning_rate, epoch, kl, rewards/, logps/, logits/, entropy, num_tokens, eval_*),
// relative 1e-4 at step 1 and 1e-3 through step 5 (floor 1e-6 absolute, 1e-5 in bf16). Recorded by
// scripts/fixtures/make_trl_kto_train.py: loss_type kto and apo_zero_unpaired, desirable/undesirable weights on
// preference pairs (unpaired as TRL does) with an eval set, gradient accumulation, max_length truncation with
// pad_to_multiple_of, precomputed reference log-probs, a synced reference, bf16 autocast with gradient
// checkpointing (TRL's CPU default), and LoRA (PEFT 0.21; the reference is the policy with its adapters off). Measured in float32: step 1 within 4e-7 relative, steps 2-5 within 5e-5;
// in bf16: 5e-8 and 8e-6 on values above 1e-2, 1.3e-6 absolute on those below.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import type { KtoConfig } from '../../src/types/config-types.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  data: string;
  log_history: LogEntry[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'kto-train.json'), 'utf8')) as { cases: Case[] };

function configFor(c: Case, dir: string): KtoConfig {
  const data = join(fixturesDir, 'trl', c.data);
  return {
    trainer: 'kto',
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
  } as KtoConfig;
}

describe('KTO training loop matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const { logHistory, globalStep } = await train(configFor(c, tempDir(`kto-${c.name}`)), { log: () => {} });
    expect(globalStep).toBe(5);
    const logs = logHistory.slice(0, -1);
    expect(logHistory.at(-1)).toHaveProperty('train_loss');
    expect(logs.length).toBe(c.log_history.length);
    // bf16: the vocabulary-mean logits (logits/chosen ≈ 4e-4 at step 5, a mean of O(1) logits that cancel) move
    // by a bfloat16 rounding; an absolute floor of 1e-5 there.
    logs.forEach((entry, i) =>
      expectLogEntryClose(entry, c.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-3, c.config.bf16 ? 1e-5 : 1e-6),
    );
  });
});

describe('checkpoints and options', () => {
  it('sync_ref_model: resuming from checkpoint-3 restores the synced reference and continues exactly', async () => {
    const c = cases.find((x) => x.name === 'sync_ref_model')!;
    const uninterrupted = await train(configFor(c, tempDir('kto-sync-full')), { log: () => {} });
    const first = tempDir('kto-sync-first');
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
    const resumed = await train(
      { ...configFor(c, first), resume_from_checkpoint: stoppedRun.checkpoint },
      { log: () => {} },
    );
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });

  it('refuses what TRL refuses and what it does not implement, naming the field', async () => {
    const c = cases[0]!;
    await expect(
      train({ ...configFor(c, tempDir('kto-sync')), sync_ref_model: true, precompute_ref_log_probs: true }),
    ).rejects.toThrow(/sync_ref_model cannot be combined with precompute_ref_log_probs/);
    await expect(train({ ...configFor(c, tempDir('kto-random')), train_sampling_strategy: 'random' })).rejects.toThrow(
      /train_sampling_strategy 'sequential'/,
    );
    await expect(
      train({
        ...configFor(c, tempDir('kto-grouped')),
        loss_type: 'apo_zero_unpaired',
        train_sampling_strategy: 'group_by_length',
      }),
    ).rejects.toThrow(
      'train_sampling_strategy: "group_by_length" is not supported: length-grouped samplers are not implemented',
    );
  });
});
