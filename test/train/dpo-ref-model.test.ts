// A DPO run whose reference is another model than the policy — online_dpo's rounds with ref_model_update: fixed
// (policy: the last round's model, reference: model_name_or_path) — against TRL 1.13's DPOTrainer(model,
// ref_model): every logged value of every step and the eval, relative 1e-4 at step 1 and 1e-3 through step 5, with
// and without precompute_ref_log_probs (measured: at most 1e-5 relative). Recorded by
// scripts/fixtures/make_trl_dpo_ref_model.py (policy llama, reference llama-ref).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type DpoConfig } from '../../src/config/load-config.js';
import { trainDpo } from '../../src/train/dpo.js';
import type { LogEntry } from '../../src/train/train-from-config.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

interface Case {
  name: string;
  config: Record<string, unknown>;
  log_history: LogEntry[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-ref-model.json'), 'utf8')) as { cases: Case[] };

describe('DPO with a reference other than the policy matches TRL', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const dir = tempDir(`dpo-${c.name}`);
    const data = join(dir, 'pairs.jsonl');
    writeFileSync(data, readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl')));
    const config = resolveConfig({
      trainer: 'dpo',
      model_name_or_path: modelDir('llama'),
      train_dataset: data,
      eval_dataset: data,
      output_dir: dir,
      bf16: false,
      gradient_checkpointing: false,
      save_strategy: 'no',
      use_cpu: true,
      ...c.config,
    }) as DpoConfig;
    const { logHistory } = await trainDpo(config, { log: () => {} }, modelDir('llama-ref'));
    const logs = logHistory.slice(0, -1);
    expect(logs.length).toBe(c.log_history.length);
    logs.forEach((entry, i) => {
      const want = c.log_history[i]!;
      expect(Object.keys(entry).sort()).toEqual(Object.keys(want).sort());
      const rel = entry.step === 1 ? 1e-4 : 1e-3;
      for (const [key, value] of Object.entries(want)) {
        expect(
          Math.abs(entry[key]! - value),
          `step ${want.step} ${key}: ${entry[key]} vs ${value}`,
        ).toBeLessThanOrEqual(Math.max(rel * Math.abs(value), 1e-6));
      }
    });
    // Not vacuous: the reference differs from the policy from the first step on.
    expect(Math.abs(logs[0]!['rewards/margins']!)).toBeGreaterThan(1e-3);
  });
});
