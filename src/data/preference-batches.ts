// Epochs of preference batches: a row's length is its prompt plus its longer completion.
import type { Table } from 'apache-arrow';
import { EpochBatches, type EpochOptions } from './epoch-batches.js';
import { rowLengths } from './length-stats.js';
import { collatePreference, type CollateOptions, type PreferenceBatch } from './preference-collator.js';
import { idColumn } from './token-table.js';

export type PreferenceBatchOptions = EpochOptions & CollateOptions;

export class PreferenceBatches extends EpochBatches<PreferenceBatch> {
  constructor(table: Table, options: PreferenceBatchOptions) {
    const columns = {
      prompt: idColumn(table, 'prompt_ids'),
      chosen: idColumn(table, 'chosen_ids'),
      rejected: idColumn(table, 'rejected_ids'),
    };
    const chosen = rowLengths(columns.chosen);
    const rejected = rowLengths(columns.rejected);
    const lengths = rowLengths(columns.prompt).map((p, i) => p + Math.max(chosen[i]!, rejected[i]!));
    super(lengths, options, (indices) => collatePreference(columns, indices, options));
  }
}
