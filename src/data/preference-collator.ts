// TRL 1.13's DataCollatorForPreference over Arrow columns: rows [chosen_0..chosen_{B-1}, rejected_0..
// rejected_{B-1}], each prompt + completion cut to max_length (keep_start: first tokens; keep_end: last),
// right-padded to the longest (rounded up to pad_to_multiple_of). Writes straight into the contiguous
// buffers the native step reads, with no per-row arrays.
import type { IdColumn } from './token-table.js';

export interface PreferenceColumns {
  prompt: IdColumn;
  chosen: IdColumn;
  rejected: IdColumn;
}

export interface CollateOptions {
  padTokenId: number;
  maxLength: number | null;
  truncationMode: 'keep_start' | 'keep_end';
  padToMultipleOf: number | null;
}

/** A padded batch of 2B rows, row-major (rows, seqLen). */
export interface PreferenceBatch {
  pairs: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  /** 1 on completion tokens: the tokens whose log-probs DPO sums. */
  completionMask: Uint8Array;
}

const rowLength = (c: IdColumn, i: number) => c.offsets[i + 1]! - c.offsets[i]!;

export function collatePreference(
  columns: PreferenceColumns,
  indices: readonly number[],
  options: CollateOptions,
): PreferenceBatch {
  const { prompt } = columns;
  const sides = [columns.chosen, columns.rejected];
  const cut = (full: number) => (options.maxLength === null ? full : Math.min(full, options.maxLength));

  let longest = 0;
  for (const completion of sides) {
    for (const i of indices) longest = Math.max(longest, cut(rowLength(prompt, i) + rowLength(completion, i)));
  }
  const multiple = options.padToMultipleOf ?? 1;
  const seqLen = Math.ceil(longest / multiple) * multiple;

  const rows = 2 * indices.length;
  const inputIds = new Int32Array(rows * seqLen).fill(options.padTokenId);
  const attentionMask = new Uint8Array(rows * seqLen);
  const completionMask = new Uint8Array(rows * seqLen);

  sides.forEach((completion, side) => {
    indices.forEach((i, b) => {
      const p = prompt.values.subarray(prompt.offsets[i], prompt.offsets[i + 1]);
      const c = completion.values.subarray(completion.offsets[i], completion.offsets[i + 1]);
      const full = p.length + c.length;
      const kept = cut(full);
      // keep_end drops tokens from the front of prompt + completion.
      const skip = options.truncationMode === 'keep_end' ? full - kept : 0;
      const row = (side * indices.length + b) * seqLen;
      for (let t = 0; t < kept; t++) {
        const source = t + skip;
        const isCompletion = source >= p.length;
        inputIds[row + t] = isCompletion ? c[source - p.length]! : p[source]!;
        attentionMask[row + t] = 1;
        completionMask[row + t] = isCompletion ? 1 : 0;
      }
    });
  });
  return { pairs: indices.length, seqLen, inputIds, attentionMask, completionMask };
}
