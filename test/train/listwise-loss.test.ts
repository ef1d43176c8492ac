// The listwise (Plackett–Luce) loss of native/train/listwise_loss.cpp against a term-by-term PyTorch transcription of
// its formula (scripts/fixtures/make_listwise_reference.py, float64 from the same float32 inputs): the loss, the
// rewards and the gradient in the policy log-probs, relative 1e-5 (float32 arithmetic; absolute 1e-6·max(1, beta) near 0,
// where a gradient is a difference of softmax terms of order beta that cancel in float32).
// No TRL oracle exists for this loss. With two answers per prompt it is DPO's sigmoid loss (the generator asserts it);
// one case weights each prompt's loss (all_pairs weighted by score gap).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface Case {
  name: string;
  group_sizes: number[];
  beta: number;
  logps: number[];
  ref_logps: number[];
  loss: number;
  grad: number[];
  rewards: number[];
  weights: number[] | null;
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'listwise-loss.json'), 'utf8')) as {
  cases: Case[];
};

const close = (actual: number, expected: number, what: string, beta = 1) =>
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    Math.max(1e-5 * Math.abs(expected), 1e-6 * Math.max(1, beta)),
  );

describe('listwise loss matches PyTorch', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const out = native().listwiseLoss(Float32Array.from(c.logps), Float32Array.from(c.ref_logps), c.group_sizes, {
      beta: c.beta,
      ...(c.weights && { weights: Float32Array.from(c.weights) }),
    });
    close(out.loss, c.loss, 'loss');
    c.grad.forEach((g, i) => close(out.grad[i]!, g, `grad[${i}]`, c.beta));
    c.rewards.forEach((r, i) => close(out.rewards[i]!, r, `rewards[${i}]`));
  });

  it('refuses a prompt with one answer and a beta that learns nothing', () => {
    const x = new Float32Array(3);
    expect(() => native().listwiseLoss(x, x, [1, 2], { beta: 0.1 })).toThrow(/at least 2 answers/);
    expect(() => native().listwiseLoss(x, x, [3], { beta: 0 })).toThrow(/'beta' must be above 0/);
    expect(() => native().listwiseLoss(x, x, [2, 2], { beta: 0.1 })).toThrow(/3 log-probs for groups of 4 rows/);
  });
});
