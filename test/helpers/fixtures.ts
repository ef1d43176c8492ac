// Paths of the committed fixtures (written by scripts/fixtures/) and small comparison helpers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { readSafetensors, type Model, type SafetensorsTensor } from '../../src/index.js';
import type { DpoConfig } from '../../src/types/config-types.js';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const modelDir = (name: string) => join(fixturesDir, 'models', name);
export const corruptFile = (name: string) => join(fixturesDir, 'corrupt', `${name}.safetensors`);

/** The reference tensors transformers produced for fixture model `name`. */
export async function reference(name: string): Promise<(key: string) => SafetensorsTensor> {
  const { tensors } = await readSafetensors(join(fixturesDir, 'reference', `${name}.safetensors`));
  return (key) => {
    const t = tensors.get(key);
    if (!t) throw new Error(`reference ${name} has no tensor ${key}`);
    return t;
  };
}

/**
 * The DPO config of a TRL flow fixture case (make_trl_dpo_flow.py and the runs that reuse it): `rows` copies of one
 * pair in `dir`, in float32 without gradient checkpointing, with the case's own keys (and the data as eval_dataset
 * when it evaluates).
 */
export function flowConfig(pair: object, c: { config: Record<string, unknown>; rows: number }, dir: string): DpoConfig {
  const data = join(dir, 'pairs.jsonl');
  writeFileSync(data, `${JSON.stringify(pair)}\n`.repeat(c.rows));
  return {
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: dir,
    bf16: false,
    gradient_checkpointing: false,
    ...(c.config.eval_strategy ? { eval_dataset: data } : {}),
    ...c.config,
  } as DpoConfig;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `alignkit-${prefix}-`));
}

/**
 * Largest |a - b| over the rows of (batch, seqLen, width) arrays where mask is 1 (all rows without mask).
 * Padded positions are left out: transformers itself gives them implementation-dependent values.
 */
export function maxAbsDiff(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  width: number,
  mask?: ArrayLike<number>,
): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let worst = 0;
  for (let row = 0; row < a.length / width; row++) {
    if (mask && !mask[row]) continue;
    for (let i = row * width; i < (row + 1) * width; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  return worst;
}

export function maxAbs(a: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]!));
  return worst;
}

/**
 * Every parameter of `model` has a gradient, and each is within `tolerance(max |expected|)` of `expectedOf(name)`:
 * tolerances scale with each gradient, since gradients span orders of magnitude across parameters.
 */
export async function expectGradients(
  model: Model,
  expectedOf: (param: string) => Float32Array,
  tolerance: (scale: number) => number,
): Promise<void> {
  const grads = await model.gradients();
  expect([...grads.keys()].sort()).toEqual(
    model
      .parameters()
      .map((p) => p.name)
      .sort(),
  );
  for (const [param, grad] of grads) {
    const expected = expectedOf(param);
    const diff = maxAbsDiff(grad.data, expected, expected.length);
    expect(diff, `${param}: max abs diff ${diff}`).toBeLessThanOrEqual(tolerance(maxAbs(expected)));
  }
}

/** Log entries without the summary's timings (train_runtime and the speeds), which differ run to run. */
export function withoutTimings(entries: Record<string, number>[]): Record<string, number>[] {
  const timings = ['train_runtime', 'train_samples_per_second', 'train_steps_per_second'];
  return entries.map((e) => Object.fromEntries(Object.entries(e).filter(([key]) => !timings.includes(key))));
}

/**
 * One log entry against TRL's: the same keys, each value within `rel` of TRL's (or `abs` where TRL's is near 0:
 * rewards, margins and KL start at exactly 0 while policy = reference).
 */
export function expectLogEntryClose(
  actual: Record<string, number>,
  expected: Record<string, number>,
  rel: number,
  abs = 1e-6,
) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key]!;
    expect(Math.abs(got - want), `step ${expected.step} ${key}: ${got} vs ${want}`).toBeLessThanOrEqual(
      Math.max(rel * Math.abs(want), abs),
    );
  }
}
