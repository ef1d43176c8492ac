// The TRL parity cases of the reference-free trainers (orpo-train.test.ts, cpo-train.test.ts): the recorded cases
// (scripts/fixtures/make_trl_orpo_train.py, make_trl_cpo_train.py), their alignkit config, and the comparison of
// every logged value of every step with TRL's: relative 1e-4 at step 1 and 1e-3 after (floor 1e-6 absolute).
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import type { CpoConfig, OrpoConfig } from '../../src/types/config-types.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir } from './fixtures.js';

export interface ReferenceFreeCase {
  name: string;
  config: Record<string, unknown>;
  data: string;
  log_history: LogEntry[];
}

export function referenceFreeCases(file: string): ReferenceFreeCase[] {
  return (JSON.parse(readFileSync(join(fixturesDir, 'trl', file), 'utf8')) as { cases: ReferenceFreeCase[] }).cases;
}

/**
 * The case's model: a fixture model folder, or (output_router_logits) a copy of it whose config.json sets
 * output_router_logits: true, as the generator sets it on the loaded model.
 */
function caseModel(c: ReferenceFreeCase, dir: string): string {
  const source = modelDir((c.config.model as string | undefined) ?? 'llama');
  if (!c.config.output_router_logits) return source;
  const copy = join(dir, 'model');
  cpSync(source, copy, { recursive: true });
  const config = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(copy, 'config.json'), JSON.stringify({ ...config, output_router_logits: true }));
  return copy;
}

export function referenceFreeConfig<C extends OrpoConfig | CpoConfig>(
  trainer: C['trainer'],
  c: ReferenceFreeCase,
  dir: string,
): C {
  const data = join(fixturesDir, 'trl', c.data);
  const { model: _model, output_router_logits: _routerLogits, chat_template: template, ...fields } = c.config;
  return {
    trainer,
    model_name_or_path: caseModel(c, dir),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}),
    ...fields,
    ...(template ? { chat_template: join(fixturesDir, 'trl', template as string) } : {}),
  } as C;
}

/** Trains each case and compares every logged value with TRL's. */
export async function expectTrlParity(trainer: 'orpo' | 'cpo', c: ReferenceFreeCase): Promise<void> {
  const { logHistory, globalStep } = await train(referenceFreeConfig(trainer, c, tempDir(`${trainer}-${c.name}`)), {
    log: () => {},
  });
  expect(globalStep).toBe(c.config.max_steps);
  const logs = logHistory.slice(0, -1);
  expect(logHistory.at(-1)).toHaveProperty('train_loss');
  expect(logs.length).toBe(c.log_history.length);
  if (!c.config.bf16) {
    logs.forEach((entry, i) => expectLogEntryClose(entry, c.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-3));
    return;
  }
  // bf16: from step 2 the bfloat16 gradients differ in a few ulps, and Adam's normalised steps carry that into the
  // weights: at step 4 the log-probs are 6.5e-5 apart relative (measured). A difference of the two sides keeps their
  // absolute error: rewards/margins (β · a difference of average log-probs ~7: measured 9e-5) and log_odds_chosen
  // (the difference itself: measured 9e-4); the vocabulary-mean logits (means of O(1) logits that cancel) move by a
  // bfloat16 rounding (1e-5).
  const floor: Record<string, number> = { 'rewards/margins': 2e-4, log_odds_chosen: 2e-3 };
  logs.forEach((entry, i) => {
    const want = c.log_history[i]!;
    expect(Object.keys(entry).sort()).toEqual(Object.keys(want).sort());
    for (const [key, value] of Object.entries(want)) {
      const bound = Math.max((entry.step === 1 ? 1e-4 : 1e-3) * Math.abs(value), floor[key] ?? 1e-5);
      expect(Math.abs(entry[key]! - value), `step ${want.step} ${key}: ${entry[key]} vs ${value}`).toBeLessThanOrEqual(
        bound,
      );
    }
  });
}
