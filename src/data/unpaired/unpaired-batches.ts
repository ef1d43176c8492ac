// Epochs of KTO batches: TRL 1.13's DataCollatorForUnpairedPreference over the Arrow columns of
// preprocess-unpaired.ts. Each row is prompt + completion cut to its first max_length tokens, right-padded to the
// longest row (rounded up to pad_to_multiple_of); with KL_completion_ids the same again for the mismatched
// (prompt, KL completion) rows, padded on their own.
import type { Table } from 'apache-arrow';
import { EpochBatches, type EpochOptions } from '../epoch-batches.js';
import { rowLengths } from '../length-stats.js';
import { idColumn, type IdColumn } from '../token-table.js';
import { labelColumn } from './label-column.js';

export interface UnpairedCollateOptions {
  padTokenId: number;
  maxLength: number | null;
  padToMultipleOf: number | null;
}

/** B padded rows, row-major (rows, seqLen). */
export interface CompletionRows {
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  /** 1 on completion tokens: the tokens whose log-probs KTO sums. */
  completionMask: Uint8Array;
}

export interface UnpairedBatch extends CompletionRows {
  rows: number;
  /** 1 desirable, 0 undesirable, per row. */
  labels: Uint8Array;
  /** Each prompt with the completion KL_completion_ids gives it (loss_type 'kto'). */
  kl?: CompletionRows;
}

function collateRows(
  prompt: IdColumn,
  completion: IdColumn,
  indices: readonly number[],
  options: UnpairedCollateOptions,
): CompletionRows {
  const span = (c: IdColumn, i: number) => c.values.subarray(c.offsets[i], c.offsets[i + 1]);
  const cut = (full: number) => (options.maxLength === null ? full : Math.min(full, options.maxLength));
  const longest = Math.max(...indices.map((i) => cut(span(prompt, i).length + span(completion, i).length)));
  const multiple = options.padToMultipleOf ?? 1;
  const seqLen = Math.ceil(longest / multiple) * multiple;
  const inputIds = new Int32Array(indices.length * seqLen).fill(options.padTokenId);
  const attentionMask = new Uint8Array(indices.length * seqLen);
  const completionMask = new Uint8Array(indices.length * seqLen);
  indices.forEach((i, b) => {
    const p = span(prompt, i);
    const c = span(completion, i);
    const row = b * seqLen;
    for (let t = 0; t < cut(p.length + c.length); t++) {
      const isCompletion = t >= p.length;
      inputIds[row + t] = isCompletion ? c[t - p.length]! : p[t]!;
      attentionMask[row + t] = 1;
      completionMask[row + t] = isCompletion ? 1 : 0;
    }
  });
  return { seqLen, inputIds, attentionMask, completionMask };
}

export class UnpairedBatches extends EpochBatches<UnpairedBatch> {
  constructor(table: Table, options: EpochOptions & UnpairedCollateOptions) {
    const prompt = idColumn(table, 'prompt_ids');
    const completion = idColumn(table, 'completion_ids');
    const klCompletion = table.getChild('KL_completion_ids') ? idColumn(table, 'KL_completion_ids') : undefined;
    const labels = labelColumn(table);
    const lengths = rowLengths(prompt).map((p, i) => p + completion.offsets[i + 1]! - completion.offsets[i]!);
    super(lengths, options, (indices) => ({
      rows: indices.length,
      ...collateRows(prompt, completion, indices, options),
      labels: Uint8Array.from(indices, (i) => labels[i]!),
      ...(klCompletion ? { kl: collateRows(prompt, klCompletion, indices, options) } : {}),
    }));
  }
}
