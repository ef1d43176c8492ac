// The order rows are visited in: per epoch, the permutation the HF Trainer's sampler draws (accelerate's
// SeedableRandomSampler: torch.randperm(rows) from a CPU generator seeded with seed + epoch, computed by libtorch
// itself so it is the same permutation bit for bit), optionally grouped by length so batches pad less.
import { native } from '../native.js';

export interface EpochOrderOptions {
  seed: number;
  epoch: number;
  shuffle: boolean;
  /**
   * With lengths, rows are shuffled, cut into megabatches of 50 batches, each sorted longest first, as
   * transformers' LengthGroupedSampler does; batches then hold rows of similar length.
   */
  lengths?: ArrayLike<number>;
  batchSize?: number;
}

export function epochOrder(rows: number, options: EpochOrderOptions): number[] {
  if (!options.shuffle) return Array.from({ length: rows }, (_, i) => i);
  const order = Array.from(native().randperm(rows, options.seed + options.epoch));
  const { lengths, batchSize } = options;
  if (!lengths || !batchSize) return order;
  const megabatch = 50 * batchSize;
  const grouped: number[] = [];
  for (let start = 0; start < order.length; start += megabatch) {
    grouped.push(...order.slice(start, start + megabatch).sort((a, b) => lengths[b]! - lengths[a]!));
  }
  return grouped;
}

/** Consecutive slices of `order` of batchSize rows; the last may be short unless dropLast. */
export function batchesOf(order: readonly number[], batchSize: number, dropLast: boolean): number[][] {
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    if (batch.length === batchSize || !dropLast) batches.push(batch);
  }
  return batches;
}
