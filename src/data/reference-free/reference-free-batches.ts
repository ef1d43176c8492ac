// Epochs of ORPO/CPO batches, collated as TRL's DPODataCollatorWithPadding then concatenated_inputs lay them out:
// rows [chosen_0..chosen_{P-1}, rejected_0..rejected_{P-1}], each its prompt + completion; each side right padded
// to its own longest row with the tokenizer's pad id, then both to the longer side with padding_value. The pad ids
// matter: TRL's logits/ metrics average over every position, padding included.
import type { Table } from 'apache-arrow';
import { EpochBatches, type EpochOptions } from '../epoch-batches.js';
import { rowLengths } from '../length-stats.js';
import type { PreferenceBatch } from '../preference-collator.js';
import { idColumn, type IdColumn } from '../token-table.js';

export interface ReferenceFreeCollateOptions {
  /** The collator's: the tokenizer's pad id. */
  padTokenId: number;
  /** concatenated_inputs': ORPOConfig.padding_value, else the tokenizer's pad id. */
  paddingValue: number;
}

const rowOf = (c: IdColumn, i: number) => c.values.subarray(c.offsets[i], c.offsets[i + 1]);

export class ReferenceFreeBatches extends EpochBatches<PreferenceBatch> {
  constructor(table: Table, options: EpochOptions & ReferenceFreeCollateOptions) {
    const sides = (['chosen', 'rejected'] as const).map((side) => ({
      prompt: idColumn(table, `${side}_prompt_ids`),
      completion: idColumn(table, `${side}_ids`),
    }));
    const length = (s: (typeof sides)[number]) => rowLengths(s.prompt).map((p, i) => p + rowLengths(s.completion)[i]!);
    const [chosen, rejected] = sides.map(length) as [Int32Array, Int32Array];
    const lengths = chosen.map((c, i) => Math.max(c, rejected[i]!));
    super(lengths, options, (indices) => {
      const longest = sides.map((_, s) => Math.max(...indices.map((i) => (s === 0 ? chosen : rejected)[i]!)));
      const seqLen = Math.max(...longest);
      const rows = 2 * indices.length;
      const inputIds = new Int32Array(rows * seqLen).fill(options.paddingValue);
      const attentionMask = new Uint8Array(rows * seqLen);
      const completionMask = new Uint8Array(rows * seqLen);
      sides.forEach((side, s) => {
        indices.forEach((i, b) => {
          const row = (s * indices.length + b) * seqLen;
          const p = rowOf(side.prompt, i),
            c = rowOf(side.completion, i);
          inputIds.fill(options.padTokenId, row, row + longest[s]!);
          inputIds.set(p, row);
          inputIds.set(c, row + p.length);
          attentionMask.fill(1, row, row + p.length + c.length);
          completionMask.fill(1, row + p.length, row + p.length + c.length);
        });
      });
      return { pairs: indices.length, seqLen, inputIds, attentionMask, completionMask };
    });
  }
}
