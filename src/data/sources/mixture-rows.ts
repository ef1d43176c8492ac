// Which rows of the mixed datasets a mixture's train and test splits hold, and in which order, from the datasets'
// row counts alone. Rows are numbered across the sources as if their full splits were concatenated (source k's
// row r is offset_k + r). Every draw is numpy's default_rng(seed).permutation(n), as datasets' Dataset.shuffle
// and Dataset.train_test_split make it.
import { AlignkitError } from '../../errors.js';
import { permutation } from '../random/permutation.js';
import type { MixtureSpec } from './mixture-config.js';

export interface MixtureRows {
  train: Uint32Array;
  /** null when the mixture has no test_split_size. */
  test: Uint32Array | null;
}

const mixError = (message: string) => new AlignkitError('ERR_INVALID_CONFIG', message);

/** Rows first..first+count-1 in order (a whole dataset, numbered from `first`). */
export function rowRange(count: number, first = 0): Uint32Array {
  const rows = new Uint32Array(count);
  for (let r = 0; r < count; r++) rows[r] = first + r;
  return rows;
}

/** Python's round(): to the nearest integer, halves to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor; // exact for doubles
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `rows.select(indices)`: the rows at `indices`, in that order. */
function select(rows: Uint32Array, indices: Uint32Array): Uint32Array {
  const out = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = rows[indices[i]!]!;
  return out;
}

/** Dataset.shuffle(seed): an empty dataset is returned as is, without a draw. */
function shuffle(rows: Uint32Array, seed: number): Uint32Array {
  return rows.length === 0 ? rows : select(rows, permutation(seed, rows.length));
}

function concatenate(parts: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The first `count` rows (Dataset.select(range(count))), which must exist. */
function head(rows: Uint32Array, count: number, what: string): Uint32Array {
  if (count > rows.length) throw mixError(`${what}: selects ${count} rows of a dataset of ${rows.length}`);
  return rows.slice(0, Math.max(0, count));
}

/** Dataset.train_test_split(test_size, seed): test = the first n_test of a permutation, train the next n_train. */
export function trainTestSplit(rows: Uint32Array, testSize: number, seed: number, where: string): MixtureRows {
  const n = rows.length;
  if (n === 0) return { train: rows, test: rows };
  const isFraction = testSize < 1;
  if (!isFraction && testSize >= n) {
    throw mixError(
      `${where}: test_size=${testSize} should be either positive and smaller than the number of samples ${n} or a float in the (0, 1) range`,
    );
  }
  const nTest = isFraction ? Math.ceil(testSize * n) : testSize;
  const nTrain = n - nTest;
  if (nTrain === 0) throw mixError(`${where}: with ${n} rows and test_size=${testSize} the train split would be empty`);
  const order = permutation(seed, n);
  return { train: select(rows, order.subarray(nTest, nTest + nTrain)), test: select(rows, order.subarray(0, nTest)) };
}

/**
 * The rows of a mixture of sources with `counts[k]` rows each, as the handbook's get_dataset (shuffle(seed) and
 * select int(len × weight) per dataset, concatenate, shuffle(seed), train_test_split(seed)) or TRL's
 * (first round(share × total) rows per dataset when fractions are set, concatenate, train_test_split) makes them.
 */
export function mixtureRows(spec: MixtureSpec, counts: readonly number[]): MixtureRows {
  const offsets = counts.map((_, k) => counts.slice(0, k).reduce((a, b) => a + b, 0));
  const whole = (k: number) => rowRange(counts[k]!, offsets[k]!);
  const label = (k: number) => `${spec.key}[${k}] (${spec.sources[k]!.path}, split ${spec.sources[k]!.split})`;
  let parts: Uint32Array[];
  if (spec.style === 'handbook') {
    parts = spec.sources.map((source, k) => {
      const rows = whole(k);
      if (source.weight === null) return rows;
      return head(
        shuffle(rows, spec.seed),
        Math.trunc(rows.length * source.weight),
        `${label(k)} weight ${source.weight}`,
      );
    });
  } else {
    parts = spec.sources.map((_, k) => whole(k));
    if (spec.sources.some((s) => s.fraction !== null)) {
      const fractions = spec.sources.map((s) => s.fraction!);
      const sum = fractions.reduce((a, b) => a + b, 0);
      if (sum === 0) throw mixError(`${spec.key}: the fractions sum to 0`);
      const weights = fractions.map((f) => f / sum);
      // The largest mixture in which no dataset gives more rows than it has.
      const total = Math.min(...weights.flatMap((w, k) => (w > 0 ? [counts[k]! / w] : [])));
      parts = parts.map((rows, k) => head(rows, roundHalfEven(weights[k]! * total), `${label(k)} fraction`));
    }
  }
  let combined = concatenate(parts);
  if (spec.style === 'handbook') combined = shuffle(combined, spec.seed);
  if (spec.testSplitSize === null) return { train: combined, test: null };
  return trainTestSplit(combined, spec.testSplitSize, spec.seed, `${spec.key} test_split_size`);
}
