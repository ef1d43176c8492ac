// Epochs of listwise batches over the table of preprocess-ranked.ts: a batch of prompts becomes one row per answer
// (prompt + answer cut to its first max_length tokens, as DPO's collator under keep_start), each prompt's answers
// contiguous and best first, right-padded to the longest row (rounded up to pad_to_multiple_of); with a `weight`
// column, each prompt's loss weight.
import type { Table } from 'apache-arrow';
import { EpochBatches, type EpochOptions } from '../epoch-batches.js';
import { idColumn, type IdColumn } from '../token-table.js';

export interface RankedCollateOptions {
  padTokenId: number;
  maxLength: number | null;
  padToMultipleOf: number | null;
}

export interface RankedBatch {
  /** Answers per prompt, in batch order. */
  groupSizes: number[];
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  /** 1 on answer tokens. */
  completionMask: Uint8Array;
  /** Each prompt's loss weight, when the table has them. */
  weights?: Float32Array;
}

const span = (c: IdColumn, i: number) => c.values.subarray(c.offsets[i], c.offsets[i + 1]);

export class RankedBatches extends EpochBatches<RankedBatch> {
  constructor(table: Table, options: EpochOptions & RankedCollateOptions) {
    const prompt = idColumn(table, 'prompt_ids');
    const completions = idColumn(table, 'completion_ids');
    const lengths = idColumn(table, 'completion_lengths');
    const weight = table.getChild('weight')?.toArray() as Float32Array | undefined;
    const cut = (n: number) => (options.maxLength === null ? n : Math.min(n, options.maxLength));
    /** Each answer of prompt i as [start, end) in completions.values. */
    const answers = (i: number) => {
      let at = completions.offsets[i]!;
      return Array.from(span(lengths, i), (n) => [at, (at += n)] as const);
    };
    const longest = Int32Array.from({ length: table.numRows }, (_, i) => {
      const p = span(prompt, i).length;
      return Math.max(...answers(i).map(([s, e]) => cut(p + e - s)));
    });
    super(longest, options, (indices) => {
      const rows = indices.flatMap((i) =>
        answers(i).map(([s, e]) => [span(prompt, i), completions.values.subarray(s, e)]),
      );
      const multiple = options.padToMultipleOf ?? 1;
      const seqLen = Math.ceil(Math.max(...rows.map(([p, c]) => cut(p!.length + c!.length))) / multiple) * multiple;
      const inputIds = new Int32Array(rows.length * seqLen).fill(options.padTokenId);
      const attentionMask = new Uint8Array(rows.length * seqLen);
      const completionMask = new Uint8Array(rows.length * seqLen);
      rows.forEach(([p, c], r) => {
        for (let t = 0; t < cut(p!.length + c!.length); t++) {
          const isAnswer = t >= p!.length;
          inputIds[r * seqLen + t] = isAnswer ? c![t - p!.length]! : p![t]!;
          attentionMask[r * seqLen + t] = 1;
          completionMask[r * seqLen + t] = isAnswer ? 1 : 0;
        }
      });
      return {
        groupSizes: indices.map((i) => span(lengths, i).length),
        seqLen,
        inputIds,
        attentionMask,
        completionMask,
        ...(weight && { weights: Float32Array.from(indices, (i) => weight[i]!) }),
      };
    });
  }
}
