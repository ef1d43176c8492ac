// The order rows are visited in: a seeded shuffle per epoch (the same seed and epoch give the same order),
// optionally grouped by length so batches pad less.

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; enough for shuffling. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(order: number[], random: () => number): number[] {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

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
  const order = Array.from({ length: rows }, (_, i) => i);
  if (!options.shuffle) return order;
  // Distinct, reproducible stream per (seed, epoch).
  const random = rng(Math.imul(options.seed ^ 0x9e3779b9, 0x85ebca6b) + options.epoch);
  shuffle(order, random);
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
