// `np.random.default_rng(seed).permutation(n)`, the draw behind datasets' Dataset.shuffle(seed) and
// Dataset.train_test_split(seed=...): numpy's Generator.permutation shuffles arange(n) in place with
// `_shuffle_raw` (Fisher–Yates from the last index down), each swap partner drawn by `random_interval`.
import { AlignkitError } from '../../errors.js';
import { Pcg64 } from './pcg64.js';

/**
 * numpy's random_interval(max): a uniform integer in [0, max] by masked rejection. For max below 2^32 it
 * draws from the buffered 32-bit stream (two draws per 64-bit output), which is why a permutation is not
 * simply one 64-bit draw per swap.
 */
export function randomInterval(rng: Pcg64, max: number): number {
  if (max === 0) return 0;
  let mask = max;
  mask |= mask >>> 1;
  mask |= mask >>> 2;
  mask |= mask >>> 4;
  mask |= mask >>> 8;
  mask |= mask >>> 16;
  mask >>>= 0;
  let value: number;
  do value = (rng.next32() & mask) >>> 0;
  while (value > max);
  return value;
}

/** `np.random.default_rng(seed).permutation(n)` for a non-negative integer seed. */
export function permutation(seed: number | bigint, n: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new AlignkitError('ERR_INVALID_ARG', `permutation size must be an integer in [0, 2^32), got ${n}`);
  }
  const rng = Pcg64.fromSeed(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const j = randomInterval(rng, i);
    const swap = out[j]!;
    out[j] = out[i]!;
    out[i] = swap;
  }
  return out;
}
