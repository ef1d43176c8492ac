// Token-length statistics printed by `alignkit preprocess`, so a user can pick max_length knowingly.
import type { IdColumn } from './token-table.js';

export interface LengthStats {
  min: number;
  mean: number;
  p95: number;
  max: number;
}

export function lengthStats(lengths: ArrayLike<number>): LengthStats {
  const sorted = Float64Array.from(lengths).sort();
  if (sorted.length === 0) return { min: 0, mean: 0, p95: 0, max: 0 };
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    min: sorted[0]!,
    mean: sum / sorted.length,
    p95: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!,
    max: sorted[sorted.length - 1]!,
  };
}

export function rowLengths(column: IdColumn): Int32Array {
  const n = column.offsets.length - 1;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = column.offsets[i + 1]! - column.offsets[i]!;
  return out;
}
