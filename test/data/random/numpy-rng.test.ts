// numpy's default_rng(seed) (SeedSequence → PCG64 → Generator.permutation) against numpy itself
// (scripts/fixtures/make_dataset_mixture.py → test/fixtures/datasets/rng.json).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { permutation } from '../../../src/data/random/permutation.js';
import { Pcg64 } from '../../../src/data/random/pcg64.js';
import { generateState32, seedPool } from '../../../src/data/random/seed-sequence.js';
import { trainTestSplit } from '../../../src/data/sources/mixture-rows.js';
import { fixturesDir } from '../../helpers/fixtures.js';

interface SeedCase {
  seed: string;
  pool: number[];
  state_u32: number[];
  pcg_state: string;
  pcg_inc: string;
  raw64: string[];
  permutations: Record<string, number[]>;
  large?: Record<string, { sha256: string; head: number[]; tail: number[] }>;
}

const fixture = JSON.parse(readFileSync(join(fixturesDir, 'datasets', 'rng.json'), 'utf8')) as {
  seeds: SeedCase[];
  shuffle_12_seed_7: number[];
  train_test_split_12_seed_7: { train: number[]; test: number[] };
};

describe.each(fixture.seeds)('seed $seed', (c) => {
  const seed = BigInt(c.seed);

  test('SeedSequence: entropy pool and generate_state', () => {
    expect(Array.from(seedPool(seed))).toEqual(c.pool);
    expect(Array.from(generateState32(seed, 8))).toEqual(c.state_u32);
  });

  test('PCG64: seeded state, increment and raw 64-bit outputs', () => {
    const rng = Pcg64.fromSeed(seed);
    expect(`0x${rng.stateValue.state.toString(16)}`).toBe(c.pcg_state);
    expect(`0x${rng.stateValue.inc.toString(16)}`).toBe(c.pcg_inc);
    const raw = c.raw64.map(() => {
      const [lo, hi] = rng.next64();
      return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
    });
    expect(raw).toEqual(c.raw64);
  });

  test.each(Object.entries(c.permutations))('permutation(%s)', (n, expected) => {
    expect(Array.from(permutation(seed, Number(n)))).toEqual(expected);
  });

  test.runIf(c.large !== undefined).each(Object.entries(c.large ?? {}))(
    'permutation(%s), beyond 2^16',
    (n, expected) => {
      const perm = permutation(seed, Number(n));
      expect(Array.from(perm.subarray(0, 10))).toEqual(expected.head);
      expect(Array.from(perm.subarray(perm.length - 10))).toEqual(expected.tail);
      expect(createHash('sha256').update(Array.from(perm).join(',')).digest('hex')).toBe(expected.sha256);
    },
  );
});

test('a number seed and a bigint seed draw alike', () => {
  expect(Array.from(permutation(42, 100))).toEqual(Array.from(permutation(42n, 100)));
});

test("datasets' train_test_split(test_size=0.3, seed=7) of 12 rows", () => {
  const rows = Uint32Array.from({ length: 12 }, (_, i) => i);
  const split = trainTestSplit(rows, 0.3, 7, 'test');
  expect(Array.from(split.train)).toEqual(fixture.train_test_split_12_seed_7.train);
  expect(Array.from(split.test!)).toEqual(fixture.train_test_split_12_seed_7.test);
  expect(Array.from(permutation(7, 12))).toEqual(fixture.shuffle_12_seed_7);
});

test('a negative or fractional seed is refused, as numpy refuses it', () => {
  expect(() => permutation(-1, 3)).toThrow(/non-negative/);
  expect(() => permutation(1.5, 3)).toThrow(/integer/);
});
