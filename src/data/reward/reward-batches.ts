// Epochs of reward-model batches, collated as TRL 1.13's reward DataCollatorForPreference: rows
// [chosen_0..chosen_{B-1}, rejected_0..rejected_{B-1}] right padded with the pad id to the longest (rounded up to
// pad_to_multiple_of), the attention mask 1 on real tokens, and the pairs' margins when the table has them.
import type { Table } from 'apache-arrow';
import { EpochBatches, type EpochOptions } from '../epoch-batches.js';
import { rowLengths } from '../length-stats.js';
import { idColumn, type IdColumn } from '../token-table.js';

export interface RewardBatch {
  pairs: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  /** One per pair, when the dataset has a margin column. */
  margin?: Float32Array;
}

export interface RewardBatchOptions extends EpochOptions {
  padTokenId: number;
  padToMultipleOf: number | null;
}

export class RewardBatches extends EpochBatches<RewardBatch> {
  constructor(table: Table, options: RewardBatchOptions) {
    const sides = [idColumn(table, 'chosen_ids'), idColumn(table, 'rejected_ids')];
    const margins = table.getChild('margin')?.toArray() as Float32Array | undefined;
    const [chosen, rejected] = sides.map(rowLengths) as [Int32Array, Int32Array];
    const lengths = chosen.map((c, i) => Math.max(c, rejected[i]!));
    super(lengths, options, (indices) => collateReward(sides, margins, indices, options));
  }
}

function collateReward(
  sides: IdColumn[],
  margins: Float32Array | undefined,
  indices: readonly number[],
  options: RewardBatchOptions,
): RewardBatch {
  const length = (c: IdColumn, i: number) => c.offsets[i + 1]! - c.offsets[i]!;
  const longest = Math.max(...sides.flatMap((c) => indices.map((i) => length(c, i))));
  const multiple = options.padToMultipleOf ?? 1;
  const seqLen = Math.ceil(longest / multiple) * multiple;
  const rows = 2 * indices.length;
  const inputIds = new Int32Array(rows * seqLen).fill(options.padTokenId);
  const attentionMask = new Uint8Array(rows * seqLen);
  sides.forEach((c, side) =>
    indices.forEach((i, b) => {
      const row = (side * indices.length + b) * seqLen;
      inputIds.set(c.values.subarray(c.offsets[i], c.offsets[i + 1]), row);
      attentionMask.fill(1, row, row + length(c, i));
    }),
  );
  const margin = margins && Float32Array.from(indices, (i) => margins[i]!);
  return { pairs: indices.length, seqLen, inputIds, attentionMask, ...(margin && { margin }) };
}
